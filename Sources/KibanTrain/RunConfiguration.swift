import Foundation
import KibanNN
import KibanTensor

/// A fine-tuning run, as `Configs/<run>.yaml` describes it. Every field has a default; a file
/// gives only what differs, and `--set key.path=value` overrides either. YAML keys are the field
/// names in snake_case (`outputDir` ↔ `output_dir`).
public struct RunConfiguration: Codable, Sendable {
    public var run = Run()
    public var model = Model()
    public var task = Task()
    public var data = DataSource()
    public var lora = LoRA()
    public var optimizer = Optimizer()
    public var schedule = Schedule()
    public var train = Training()
    public var adapter = Adapter()

    public init() {}

    /// Where outputs go and what makes the run reproducible.
    public struct Run: Codable, Sendable {
        public var name = "run"
        /// Checkpoints, `metrics.jsonl`, curves and `summary.json` go here.
        public var outputDir = "runs/run"
        /// Seeds initialisation, data order, dropout and masking.
        public var seed = 0
        /// Threads of the whole process: OpenBLAS GEMM and Kiban's own kernels (`kiban finetune`
        /// sets `Threading.threadCount`). 0: `KIBAN_NUM_THREADS`, else all active cores.
        public var threads = 0
        /// Continue from `output_dir/last.h5` when it exists.
        public var resume = true
    }

    /// The base model.
    public struct Model: Codable, Sendable {
        /// Architecture family: esm | bert | materials.
        public var family = Family.esm
        /// `scratch` (from `config`), `huggingface` (a folder with config.json + safetensors at
        /// `path`) or `checkpoint` (a Kiban checkpoint at `path`, e.g. from pre-training).
        public var initialize = Initialization.scratch
        /// A model YAML (`Configs/esm2-8m.yaml`) for `scratch` and `checkpoint`.
        public var config = ""
        public var path = ""
        /// Materials only: a per-element feature table (CSV, first column `element`), projected to
        /// the model width as the initial element embedding (CrabNet's mat2vec).
        public var elementFeatures = ""

        public enum Family: String, Codable, Sendable { case esm, bert, materials }
        public enum Initialization: String, Codable, Sendable { case scratch, huggingface, checkpoint }
    }

    /// What is learned.
    public struct Task: Codable, Sendable {
        public var kind = Kind.sequenceClassification
        /// Classes (classification) or outputs (regression).
        public var numLabels = 2
        /// Sequence tasks: `first` (CLS token) or `mean`.
        public var pooling = "mean"
        public var headDropout: Float = 0.1
        /// Masked-LM: fraction of tokens selected for corruption.
        public var maskProbability = 0.15
        /// Regression loss: mse | l1 | huber.
        public var loss = RegressionLoss.mse
        /// Regression: train on (y − mean)/std of the training targets.
        public var normalizeTargets = true

        public enum Kind: String, Codable, Sendable {
            case maskedLM = "masked-lm", sequenceClassification = "sequence-classification"
            case sequenceRegression = "sequence-regression", tokenClassification = "token-classification"
            case compositionRegression = "composition-regression", compositionClassification = "composition-classification"
        }
    }

    /// Where examples come from.
    public struct DataSource: Codable, Sendable {
        /// The training file, or the one file that holds every split (see `split_column`).
        public var train = ""
        /// Separate validation and test files (empty: use `split_column`, or hold out by hash).
        public var validation = ""
        public var test = ""
        /// Column naming each row's split (train/val/test) when one file holds them all.
        public var splitColumn = "split"
        public var sequenceColumn = "sequence"
        public var labelColumn = "label"
        /// Token classification: a column with one label character per residue.
        public var tokenLabelColumn = "labels"
        public var formulaColumn = "formula"
        public var targetColumn = "target"
        /// FASTA: fraction of sequences held out for validation (by a hash of the sequence).
        public var validationFraction = 0.05
        /// Tokens per sequence including special tokens; longer ones are cropped (train) or truncated.
        public var maxLength = 128
    }

    /// LoRA / DoRA adapters (PEFT's field names). Off: full fine-tuning.
    public struct LoRA: Codable, Sendable {
        public var enabled = false
        public var r = 8
        public var loraAlpha: Float = 16
        public var loraDropout: Float = 0
        public var useRslora = false
        public var useDora = false
        /// Regular expressions over dotted Linear paths.
        public var targetModules = ["query$", "value$"]
        /// Regular expressions of modules trained in full alongside (the task head by default).
        public var modulesToSave = ["^classifier"]

        /// The adapter configuration (PEFT's `LoraConfig`) these fields describe.
        public var configuration: LoRAConfiguration {
            LoRAConfiguration(
                rank: r, alpha: loraAlpha, dropout: loraDropout, rankStabilized: useRslora, targetModules: targetModules,
                useDoRA: useDora, modulesToSave: modulesToSave)
        }
    }

    /// AdamW.
    public struct Optimizer: Codable, Sendable {
        public var lr: Float = 1e-3
        public var weightDecay: Float = 0.01
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var eps: Float = 1e-8
    }

    /// Learning-rate multiplier by update step.
    public struct Schedule: Codable, Sendable {
        /// constant | warmup-cosine | warmup-linear.
        public var kind = "warmup-cosine"
        /// Warm-up updates (when 0, `warmup_ratio` of all updates).
        public var warmupSteps = 0
        public var warmupRatio = 0.06
        /// Cosine floor as a fraction of `optimizer.lr`.
        public var minFactor = 0.0
    }

    /// A modality adapter (multimodal fusion). Composition tasks only for now.
    public struct Adapter: Codable, Sendable {
        /// Where the descriptor vector comes from: empty (no adapter), or a per-element property table
        /// (CSV, e.g. `elements/magpie.csv`) whose Magpie statistics are computed from each formula.
        public var descriptors = ""
        /// How it enters the model: `projector` (an MLP makes `tokens` tokens the element tokens attend to).
        public var fusion = "projector"
        public var tokens = 4
        /// The projector MLP's hidden width.
        public var hidden = 256
    }

    /// The loop.
    public struct Training: Codable, Sendable {
        public var epochs = 10
        /// Stop after this many updates (0: `epochs` decides).
        public var maxSteps = 0
        /// Examples per micro-batch on each rank. One update takes `batch_size × ranks ×
        /// accumulation` examples (the global batch; ranks is 1 outside `mpirun`).
        public var batchSize = 32
        /// Micro-batches per update on each rank.
        public var accumulation = 1
        /// Under `mpirun`: 0 plain data parallel; 1 ZeRO-1 (optimizer moments sharded over the
        /// ranks); 2 ZeRO-2 (moments and summed gradients sharded). The parameters are the same at
        /// every stage; only memory and communication differ.
        public var zeroStage = 0
        /// Under `mpirun`: ranks that split each copy of the model between them (Megatron-style
        /// tensor parallelism; ESM-2 only, without LoRA or ZeRO). The other factor of the rank count
        /// is data parallel: consecutive ranks form a tensor-parallel group.
        public var tensorParallel = 1
        /// Batches per length-sorted window when batching (similar lengths pad less); 1 is a plain
        /// shuffle, as PyTorch's sampler.
        public var lengthBucketing = 50
        /// Global gradient-norm clip (0: off).
        public var clipNorm = 1.0
        /// Classification: `balanced` (n / (classes · count)) or empty.
        public var classWeights = ""
        public var labelSmoothing: Float = 0
        /// Evaluate on the validation split every N updates (0: at the end of each epoch).
        public var evalEvery = 0
        /// Stop after this many evaluations without improvement (0: never).
        public var earlyStoppingPatience = 0
        /// `validation_loss` or any reported validation metric (`validation_accuracy`, `validation_mae`, …).
        public var monitor = "validation_loss"
        /// Write `last.h5` every N updates (0: at each evaluation).
        public var checkpointEvery = 0
        /// Evaluate the best checkpoint on the test split at the end.
        public var testAtEnd = true
        /// ESM-2 masked-LM, sequence classification and sequence regression: each batch's sequences
        /// packed back to back without padding (no compute on padding; masked-LM masks the same
        /// tokens as padded). Token classification and the other models pad.
        public var packing = true
        /// Matrix products in `float32` or `bf16` mixed precision (bf16 operands, float32
        /// accumulation, float32 master weights; needs AVX-512 BF16), training and evaluation alike.
        public var precision = GEMMPrecision.float32
    }
}
