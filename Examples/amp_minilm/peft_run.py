"""PEFT reference run: all-MiniLM-L6-v2 + LoRA on AMP vs UniProt (the recipe Kiban repeats).

Model: `AutoModelForSequenceClassification.from_pretrained(<model dir>, num_labels=2)` (BERT with
a new, randomly initialised 2-way classifier on the pooled [CLS] output), wrapped by PEFT
`LoraConfig(task_type=SEQ_CLS, r, lora_alpha, lora_dropout, target_modules=["query", "value"])`.
SEQ_CLS also trains the classifier head (modules_to_save); everything else is frozen. The JSON
records the trainable parameter names and counts.

Data: `protein/amp_vs_uniprot.csv`; each peptide string goes to the model's own tokenizer as given
(uncased WordPiece, so it is lowercased), truncated to --max-length, padded per batch.

Recipe: AdamW (torch defaults besides lr and weight decay, applied to all trainable parameters),
no gradient clipping, linear schedule: with T = epochs * ceil(train / batch) optimizer steps and
W = ceil(warmup_ratio * T), optimizer step i (0-based) uses lr * i / W for i < W and
lr * (T - i) / (T - W) afterwards (the `transformers` convention, so step 0 has lr 0). The train
split is reshuffled every epoch by `torch.randperm` with one Generator seeded by --seed; the model
(classifier and LoRA init, dropout) is seeded by `torch.manual_seed(--seed)`. After each epoch the
val accuracy is measured (eval mode); the epoch with the best val accuracy (earliest on ties) is
restored and its test accuracy reported. Train loss per epoch is the sample-weighted mean of the
batch losses (dropout on).

    python3 Examples/amp_minilm/peft_run.py --output amp_minilm_peft.json
    python3 Examples/amp_minilm/peft_run.py --max-train 256 --epochs 1   # smoke run
"""

import argparse
import csv
import json
import math
import subprocess
import time
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, TaskType, get_peft_model
from transformers import AutoModelForSequenceClassification, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None,
                        help="data folder (default: the one Examples/data_root.sh finds)")
    parser.add_argument("--model", type=Path, default=ROOT / "data" / "models" / "all-MiniLM-L6-v2")
    parser.add_argument("--output", type=Path, default=Path("amp_minilm_peft.json"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=16)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--max-train", type=int, help="use a seeded random subset of this many train rows")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    args.data = args.data or Path(subprocess.check_output([ROOT / "Examples/data_root.sh"], text=True).strip())
    return args


def load_splits(path):
    """Return {split: (sequences, labels tensor)} from the `sequence,label,split` CSV."""
    rows = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            rows.setdefault(row["split"], []).append((row["sequence"], int(row["label"])))
    return {split: ([s for s, _ in pairs], torch.tensor([label for _, label in pairs])) for split, pairs in rows.items()}


def subsample(sequences, labels, count, seed):
    keep = torch.randperm(len(sequences), generator=torch.Generator().manual_seed(seed))[:count]
    return [sequences[i] for i in keep.tolist()], labels[keep]


def build_model(args):
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2)
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=args.rank, lora_alpha=args.alpha,
                        lora_dropout=args.dropout, target_modules=["query", "value"])
    return get_peft_model(model, config)


def linear_warmup_decay(total_steps, warmup_steps):
    def factor(step):
        if step < warmup_steps:
            return step / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
    return factor


def encode(tokenizer, sequences, max_length):
    return tokenizer(sequences, padding=True, truncation=True, max_length=max_length, return_tensors="pt")


def train_epoch(model, tokenizer, optimizer, scheduler, data, order, args):
    model.train()
    sequences, labels = data
    total = 0.0
    for start in range(0, len(order), args.batch_size):
        index = order[start:start + args.batch_size]
        inputs = encode(tokenizer, [sequences[i] for i in index.tolist()], args.max_length)
        loss = model(**inputs, labels=labels[index]).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.item() * len(index)
    return total / len(order)


@torch.inference_mode()
def accuracy(model, tokenizer, data, args):
    model.eval()
    sequences, labels = data
    correct = 0
    for start in range(0, len(sequences), args.batch_size):
        inputs = encode(tokenizer, sequences[start:start + args.batch_size], args.max_length)
        correct += (model(**inputs).logits.argmax(-1) == labels[start:start + args.batch_size]).sum().item()
    return correct / len(sequences)


def trainable(model):
    return {name: parameter for name, parameter in model.named_parameters() if parameter.requires_grad}


def main():
    args = parse_args()
    start_time = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    splits = load_splits(args.data / "protein" / "amp_vs_uniprot.csv")
    if args.max_train is not None:
        splits["train"] = subsample(*splits["train"], args.max_train, args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = build_model(args)
    parameters = trainable(model)
    optimizer = torch.optim.AdamW(parameters.values(), lr=args.lr, weight_decay=args.weight_decay)
    train_rows = len(splits["train"][0])
    total_steps = args.epochs * math.ceil(train_rows / args.batch_size)
    warmup_steps = math.ceil(args.warmup_ratio * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_warmup_decay(total_steps, warmup_steps))

    shuffle = torch.Generator().manual_seed(args.seed)
    epochs, best, best_state = [], None, None
    for epoch in range(1, args.epochs + 1):
        epoch_start = time.perf_counter()
        order = torch.randperm(train_rows, generator=shuffle)
        loss = train_epoch(model, tokenizer, optimizer, scheduler, splits["train"], order, args)
        val = accuracy(model, tokenizer, splits["val"], args)
        epochs.append({"epoch": epoch, "train_loss": loss, "val_accuracy": val,
                       "seconds": time.perf_counter() - epoch_start})
        print(json.dumps(epochs[-1]), flush=True)
        if best is None or val > best["val_accuracy"]:
            best = epochs[-1]
            best_state = {name: parameter.detach().clone() for name, parameter in parameters.items()}

    with torch.no_grad():
        for name, parameter in parameters.items():
            parameter.copy_(best_state[name])
    result = {
        "model": str(args.model), "seed": args.seed,
        "hyperparameters": {key: value for key, value in vars(args).items()
                            if key not in ("data", "model", "output", "seed")},
        "train_rows": train_rows, "val_rows": len(splits["val"][0]), "test_rows": len(splits["test"][0]),
        "total_steps": total_steps, "warmup_steps": warmup_steps,
        "trainable_parameters": {name: parameter.numel() for name, parameter in parameters.items()},
        "trainable_count": sum(parameter.numel() for parameter in parameters.values()),
        "total_parameter_count": sum(parameter.numel() for parameter in model.parameters()),
        "epochs": epochs, "best_epoch": best["epoch"], "val_accuracy": best["val_accuracy"],
        "test_accuracy": accuracy(model, tokenizer, splits["test"], args),
        "wall_seconds": time.perf_counter() - start_time,
        "versions": {"torch": torch.__version__, "peft": peft.__version__, "transformers": transformers.__version__},
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({key: result[key] for key in ("best_epoch", "val_accuracy", "test_accuracy", "wall_seconds",
                                                   "trainable_count")}, indent=2))


if __name__ == "__main__":
    main()
