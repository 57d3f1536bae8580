"""Generate PyTorch reference fixtures for Kiban's whole-model tests.

Writes one safetensors file per model next to this script. Run from the repo
root:

    python3 Tests/Fixtures/make_model_fixtures.py

Models: a tiny ESM-2 masked LM, a tiny BERT masked LM, a tiny Llama causal LM
(all from transformers, eager attention) and ``CompositionEncoder``, a small
set-transformer regressor over chemical formulas defined below.

Conventions (see README.md in this directory):

* Every state-dict entry is stored under its exact key as F32 (the float32
  initialisation from ``torch.manual_seed(0)``); tied weights appear under
  every key that ``state_dict()`` lists, and ``__metadata__["__tied__"]``
  holds the [alias, source] pairs.
* Inputs are ``input.<name>``; the computation is in float64
  (``model.double()``) and ``out.logits``, ``out.loss`` and ``grad.<param>``
  are F64. Gradients are of ``out.loss`` at the initial parameters, once per
  parameter (tied ones under the source name).
* ``train.losses`` and ``train.grad_norms`` record 10 AdamW steps on the same
  batch (warm-up + cosine schedule, clipping at global norm 1.0); the loss at
  step k is computed before update k, so ``train.losses[0] == out.loss``.

The output is deterministic: inputs come from one numpy Generator seeded
with 0 and each model is initialised right after ``torch.manual_seed(0)``.
"""

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file
from torch import nn

FIXTURES_DIR = Path(__file__).resolve().parent
GENERATOR = "Tests/Fixtures/make_model_fixtures.py"

TRAIN_STEPS = 10
WARMUP_STEPS = 3
LEARNING_RATE = 1e-2
BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 1.0
TRAINING_METADATA = {
    "optimizer": "AdamW lr=1e-2 wd=0.01 all params",
    "adamw": "torch.optim.AdamW(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, "
             "weight_decay=0.01), decoupled decay on every parameter "
             "(norms and biases included)",
    "schedule": "LambdaLR: update k (0-based, k = 0..9) uses lr = 1e-2 * f(k), "
                "f(k) = (k+1)/3 if k < 3 else 0.5*(1+cos(pi*(k-3)/(10-3)))",
    "clip_grad_norm": "torch.nn.utils.clip_grad_norm_(max_norm=1.0) on the "
                      "global L2 norm before each update; train.grad_norms "
                      "holds the pre-clipping norm",
}

ESM_CLS, ESM_PAD, ESM_EOS, ESM_MASK = 0, 1, 2, 32
ESM_RESIDUES = (4, 24)  # the 20 amino-acid ids, half-open
BERT_PAD, BERT_CLS, BERT_SEP, BERT_MASK = 0, 2, 3, 4
BERT_WORDS = (5, 50)  # ordinary token ids, half-open

COMPOSITION_CONFIG = {
    "num_elements": 103,
    "d_model": 32,
    "num_layers": 2,
    "num_heads": 4,
    "mlp_width": 64,
    "layer_norm_eps": 1e-5,
    "fraction_resolution": 100,
}
# Element counts keyed by atomic number; fractions are count / total.
FORMULAS = {
    "Fe2O3": [(26, 2), (8, 3)],
    "NaCl": [(11, 1), (17, 1)],
    "BaTiO3": [(56, 1), (22, 1), (8, 3)],
}
MAX_ELEMENTS = 4

rng = np.random.default_rng(0)


def ids(rows):
    """An I64 tensor from nested lists of token ids."""
    return torch.tensor(rows, dtype=torch.int64)


def ref(t):
    """A float64 reference value, detached from the graph."""
    return t.detach().double()


def lr_factor(step):
    """Learning-rate multiplier for update ``step``: linear warm-up, then cosine to 0."""
    if step < WARMUP_STEPS:
        return (step + 1) / WARMUP_STEPS
    progress = (step - WARMUP_STEPS) / (TRAIN_STEPS - WARMUP_STEPS)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def lm_loss(logits, labels, shift):
    """Mean cross-entropy over labels != -100; with ``shift``, position t predicts label t+1."""
    if shift:
        logits, labels = logits[:, :-1], labels[:, 1:]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                           ignore_index=-100)


def hf_forward(inputs, shift):
    """A forward function for a transformers LM: (logits, float64 loss).

    The loss is recomputed from the float64 logits and checked against the
    model's own loss; Llama's loss upcasts logits to float32, so that check
    runs at float32 tolerance.
    """
    def forward(model):
        outputs = model(**inputs)
        loss = lm_loss(outputs.logits, inputs["labels"], shift)
        torch.testing.assert_close(outputs.loss, loss.to(outputs.loss.dtype))
        return outputs.logits, loss
    return forward


def masked_rows(rows, mask_id, count):
    """Replace ``count`` random candidate positions per row by ``mask_id``.

    ``rows`` is a list of (token ids, candidate positions). Returns the masked
    ids and the labels (the original id at masked positions, -100 elsewhere).
    """
    input_ids, labels = [], []
    for tokens, candidates in rows:
        tokens, row_labels = list(tokens), [-100] * len(tokens)
        for position in rng.choice(candidates, size=count, replace=False):
            row_labels[position], tokens[position] = tokens[position], mask_id
        input_ids.append(tokens)
        labels.append(row_labels)
    return ids(input_ids), ids(labels)


def tied_pairs(model):
    """[alias, source] pairs of state-dict keys sharing storage; the source is the
    name ``named_parameters()`` keeps."""
    sources = {(p.data_ptr(), p.shape): name for name, p in model.named_parameters()}
    return [[key, sources[(t.data_ptr(), t.shape)]]
            for key, t in model.state_dict().items()
            if sources.get((t.data_ptr(), t.shape), key) != key]


def esm_case():
    config = transformers.EsmConfig(
        vocab_size=33, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64,
        position_embedding_type="rotary", token_dropout=True,
        mask_token_id=ESM_MASK, pad_token_id=ESM_PAD, emb_layer_norm_before=False,
        layer_norm_eps=1e-5, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, attn_implementation="eager")
    torch.manual_seed(0)
    model = transformers.EsmForMaskedLM(config)
    rows = []
    for residues, pads in ((10, 0), (7, 3)):
        tokens = [ESM_CLS, *rng.integers(*ESM_RESIDUES, size=residues).tolist(), ESM_EOS]
        rows.append((tokens + [ESM_PAD] * pads, range(1, residues + 1)))
    input_ids, labels = masked_rows(rows, ESM_MASK, count=2)
    inputs = {"input_ids": input_ids,
              "attention_mask": (input_ids != ESM_PAD).long(), "labels": labels}
    return model, inputs, hf_forward(inputs, shift=False), config.to_json_string()


def bert_case():
    config = transformers.BertConfig(
        vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=32, type_vocab_size=2,
        hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=BERT_PAD,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        attn_implementation="eager")
    torch.manual_seed(0)
    model = transformers.BertForMaskedLM(config)

    def words(n):
        return rng.integers(*BERT_WORDS, size=n).tolist()

    # Row 0: [CLS] 4 words [SEP] | 3 words [SEP] (segment 1 from position 6).
    # Row 1: [CLS] 5 words [SEP] [PAD] x3.
    row0 = [BERT_CLS, *words(4), BERT_SEP, *words(3), BERT_SEP]
    row1 = [BERT_CLS, *words(5), BERT_SEP] + [BERT_PAD] * 3
    input_ids, labels = masked_rows(
        [(row0, [1, 2, 3, 4, 6, 7, 8]), (row1, [1, 2, 3, 4, 5])], BERT_MASK, count=3)
    inputs = {"input_ids": input_ids,
              "attention_mask": (input_ids != BERT_PAD).long(),
              "token_type_ids": ids([[0] * 6 + [1] * 4, [0] * 10]),
              "labels": labels}
    return model, inputs, hf_forward(inputs, shift=False), config.to_json_string()


def llama_case():
    config = transformers.LlamaConfig(
        vocab_size=40, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False,
        attention_bias=False, mlp_bias=False, attn_implementation="eager")
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    input_ids = torch.from_numpy(rng.integers(0, 40, size=(2, 9), dtype=np.int64))
    inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
              "labels": input_ids.clone()}
    return model, inputs, hf_forward(inputs, shift=True), config.to_json_string()


def fractional_encoding(fractions, d_model, resolution):
    """CrabNet-style sinusoids of x = fraction * resolution (continuous, no table):
    pe[2i] = sin(x / 10000^(2i/d)), pe[2i+1] = cos(x / 10000^(2i/d))."""
    x = fractions[..., None] * resolution
    exponents = torch.arange(0, d_model, 2, dtype=fractions.dtype) / d_model
    angles = x / 10000.0 ** exponents
    return torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(-2)


class SelfAttention(nn.Module):
    """Multi-head self-attention; padded element slots are masked out as keys."""

    def __init__(self, d_model, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.output = nn.Linear(d_model, d_model)

    def forward(self, x, mask):
        batch, length, d_model = x.shape

        def heads(t):
            return t.view(batch, length, self.num_heads, -1).transpose(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        context = scores.softmax(dim=-1) @ v
        return self.output(context.transpose(1, 2).reshape(batch, length, d_model))


class MLP(nn.Module):
    """up -> GELU (erf) -> down."""

    def __init__(self, d_model, width):
        super().__init__()
        self.up = nn.Linear(d_model, width)
        self.down = nn.Linear(width, d_model)

    def forward(self, x):
        return self.down(F.gelu(self.up(x), approximate="none"))


class EncoderLayer(nn.Module):
    """Post-norm block: x = norm(x + attention(x)); x = norm(x + mlp(x))."""

    def __init__(self, d_model, num_heads, mlp_width, eps):
        super().__init__()
        self.attention = SelfAttention(d_model, num_heads)
        self.attention_norm = nn.LayerNorm(d_model, eps=eps)
        self.mlp = MLP(d_model, mlp_width)
        self.mlp_norm = nn.LayerNorm(d_model, eps=eps)

    def forward(self, x, mask):
        x = self.attention_norm(x + self.attention(x, mask))
        return self.mlp_norm(x + self.mlp(x))


class CompositionEncoder(nn.Module):
    """Regress a scalar from a formula, a set of (element, fraction) tokens.

    token = element_embedding(element) + fraction_encoder(fractional_encoding(fraction));
    no positional encoding and no causal mask; masked mean pooling over the real
    elements, then a linear head. ``mask`` is True for real elements.
    """

    def __init__(self, num_elements, d_model, num_layers, num_heads, mlp_width,
                 layer_norm_eps, fraction_resolution):
        super().__init__()
        self.d_model = d_model
        self.fraction_resolution = fraction_resolution
        self.element_embedding = nn.Embedding(num_elements, d_model)
        self.fraction_encoder = nn.Linear(d_model, d_model)
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, num_heads, mlp_width, layer_norm_eps)
            for _ in range(num_layers))
        self.head = nn.Linear(d_model, 1)

    def forward(self, elements, fractions, mask):
        encoding = fractional_encoding(fractions, self.d_model, self.fraction_resolution)
        x = self.element_embedding(elements) + self.fraction_encoder(encoding)
        for layer in self.layers:
            x = layer(x, mask)
        weights = mask[..., None].to(x.dtype)
        return self.head((x * weights).sum(dim=1) / weights.sum(dim=1))


def composition_case():
    torch.manual_seed(0)
    model = CompositionEncoder(**COMPOSITION_CONFIG)
    elements, fractions = [], []
    for counts in FORMULAS.values():
        total = sum(count for _, count in counts)
        padding = [(0, 0)] * (MAX_ELEMENTS - len(counts))
        elements.append([z for z, _ in counts + padding])
        fractions.append([count / total for _, count in counts + padding])
    elements = ids(elements)
    inputs = {"elements": elements,
              "fractions": torch.tensor(fractions, dtype=torch.float32),
              "mask": (elements != 0).long(),
              "targets": torch.from_numpy(rng.standard_normal(len(FORMULAS)).astype(np.float32))}

    def forward(model):
        predictions = model(inputs["elements"], inputs["fractions"].double(),
                            inputs["mask"].bool())
        return predictions, F.mse_loss(predictions.squeeze(-1), inputs["targets"].double())

    return model, inputs, forward, json.dumps(COMPOSITION_CONFIG)


def train(model, forward):
    """Reference outputs, gradients and the AdamW trajectory on one batch.

    Update k is preceded by the forward/backward pass whose loss is
    train.losses[k]; the step-0 pass also gives out.* and grad.*.
    """
    named = list(model.named_parameters())
    params = [p for _, p in named]
    optimizer = torch.optim.AdamW(params, lr=LEARNING_RATE, betas=BETAS, eps=ADAM_EPS,
                                  weight_decay=WEIGHT_DECAY)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    losses, norms = [], []
    for step in range(TRAIN_STEPS):
        optimizer.zero_grad()
        logits, loss = forward(model)
        loss.backward()
        if step == 0:
            record = {"out.logits": ref(logits), "out.loss": ref(loss).reshape(1)}
            record.update({f"grad.{name}": ref(p.grad).clone() if p.grad is not None
                           else torch.zeros_like(p, dtype=torch.float64)
                           for name, p in named})
            unused = [name for name, p in named if p.grad is None]
        norms.append(torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM))
        losses.append(loss.detach())
        optimizer.step()
        scheduler.step()
    record["train.losses"] = ref(torch.stack(losses))
    record["train.grad_norms"] = ref(torch.stack(norms))
    return record, unused


def make_fixture(case):
    """The tensors and metadata of one model file."""
    model, inputs, forward, config_json = case()
    tied = tied_pairs(model)
    weights = {key: t.detach().clone() for key, t in model.state_dict().items()}
    model.double()
    record, unused = train(model, forward)
    tensors = {**weights, **{f"input.{k}": v for k, v in inputs.items()}, **record}
    metadata = {
        "generator": GENERATOR,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "config": config_json,
        "__tied__": json.dumps(tied),
        "tied_grads": "grad.* holds each tied parameter once, under the source "
                      "(second) name of its __tied__ pair",
        "unused_params": json.dumps(unused),
        "dtype": "weights initialised and stored in float32; computed in float64",
        **TRAINING_METADATA,
    }
    if isinstance(model, transformers.PreTrainedModel):
        metadata["attn_implementation"] = "eager"
    return tensors, metadata


CASES = {
    "esm_mlm": esm_case,
    "bert_mlm": bert_case,
    "llama_clm": llama_case,
    "composition": composition_case,
}


def main():
    for name, case in CASES.items():
        tensors, metadata = make_fixture(case)
        path = FIXTURES_DIR / f"{name}.safetensors"
        save_file({k: t.contiguous() for k, t in tensors.items()}, str(path),
                  metadata=metadata)
        print(f"wrote {len(tensors)} tensors to {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
