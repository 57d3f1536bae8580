"""Checks files that Kiban wrote during the same CI run (`$KIBAN_INTEROP_DIR`, see
`Tests/KibanModelsTests/InteropArtifactTests.swift`) with the reference Python stack:

* `esm/`, `bert/`: `AutoModelForMaskedLM.from_pretrained` loads them with no missing or unexpected
  keys, each tied weight is in the file once, under its source key, as `save_pretrained` writes it
  (no target of the model's `_tied_weights_keys`), and its logits on Kiban's inputs equal Kiban's
  within 1e-4.
* `peft_base/` + `peft_adapter/`: `PeftModel.from_pretrained` loads Kiban's LoRA adapter onto the
  base model and gives Kiban's logits within 1e-4.
* `peft_dora_base/` + `peft_dora_adapter/`: the same for a DoRA adapter with a `rank_pattern`, an
  `alpha_pattern` and `lm_head.dense` in `modules_to_save`.
* `minilm_lora/`: a LoRA adapter with a `classifier` in `modules_to_save` for all-MiniLM-L6-v2 as
  `BertForSequenceClassification` (3 labels; the base folder is the adapter's
  `base_model_name_or_path`) gives Kiban's logits and last hidden states within 1e-4.
* `checkpoint.h5`: h5py reads every parameter with the expected name and shape, the optimizer
  moments and the provenance attributes.

Usage: python3 Tests/Interop/check_interop.py DIR. Prints one line per check and a closing
"N passed, M failed" line; exits non-zero on any failure.
"""

import json
import sys
from pathlib import Path

import h5py
import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file
from peft import PeftModel
from peft.utils import ModulesToSaveWrapper
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification

RESULTS = []


def check(name, condition, detail=""):
    RESULTS.append(bool(condition))
    print(f"{'PASS' if condition else 'FAIL'} {name}{': ' + detail if detail else ''}")


def check_masked_lm(folder):
    model, info = AutoModelForMaskedLM.from_pretrained(folder, output_loading_info=True)
    model.eval()
    check(f"{folder.name}: no missing keys", not info["missing_keys"], str(info["missing_keys"]))
    check(f"{folder.name}: no unexpected keys", not info["unexpected_keys"], str(info["unexpected_keys"]))
    with safe_open(folder / "model.safetensors", "np") as file:
        written = set(file.keys())
    tied = model._tied_weights_keys or {}
    check(f"{folder.name}: tied weights written once", tied and not set(tied) & written and set(tied.values()) <= written,
          f"targets written: {sorted(set(tied) & written)}, sources missing: {sorted(set(tied.values()) - written)}")
    reference = load_file(folder / "kiban_logits.safetensors")
    with torch.no_grad():
        logits = model(input_ids=torch.from_numpy(reference["input_ids"]),
                       attention_mask=torch.from_numpy(reference["attention_mask"])).logits.numpy()
    difference = float(np.abs(logits - reference["logits"]).max())
    check(f"{folder.name}: logits equal Kiban's", difference <= 1e-4, f"max |Δ| = {difference:.2e}")


def check_modules_to_save(model, folder, label):
    """Every module the adapter config names in modules_to_save is wrapped as PEFT's ModulesToSaveWrapper."""
    names = json.loads((folder / "adapter_config.json").read_text())["modules_to_save"] or []
    wrapped = {name for name, module in model.base_model.model.named_modules() if isinstance(module, ModulesToSaveWrapper)}
    check(f"{label}: modules_to_save wrapped by PEFT", names and set(names) <= wrapped, f"{names} vs {sorted(wrapped)}")


def check_peft_adapter(directory, base_name, adapter_name, label):
    base = AutoModelForMaskedLM.from_pretrained(directory / base_name)
    model = PeftModel.from_pretrained(base, directory / adapter_name)
    model.eval()
    if json.loads((directory / adapter_name / "adapter_config.json").read_text())["modules_to_save"]:
        check_modules_to_save(model, directory / adapter_name, f"peft {label}")
    reference = load_file(directory / adapter_name / "kiban_logits.safetensors")
    with torch.no_grad():
        logits = model(input_ids=torch.from_numpy(reference["input_ids"]),
                       attention_mask=torch.from_numpy(reference["attention_mask"])).logits.numpy()
    difference = float(np.abs(logits - reference["logits"]).max())
    check(f"peft: Kiban {label} adapter gives Kiban's logits", difference <= 1e-4, f"max |Δ| = {difference:.2e}")


def check_minilm_adapter(directory):
    folder = directory / "minilm_lora"
    if not folder.is_dir():
        check("minilm: Kiban wrote the adapter", False, f"{folder} is missing (all-MiniLM-L6-v2 not fetched?)")
        return
    config = json.loads((folder / "adapter_config.json").read_text())
    base = AutoModelForSequenceClassification.from_pretrained(config["base_model_name_or_path"], num_labels=3)
    model = PeftModel.from_pretrained(base, folder)
    model.eval()
    check_modules_to_save(model, folder, "minilm")
    reference = load_file(folder / "kiban_logits.safetensors")
    with torch.no_grad():
        output = model(input_ids=torch.from_numpy(reference["input_ids"]),
                       attention_mask=torch.from_numpy(reference["attention_mask"]), output_hidden_states=True)
    for name, value in (("logits", output.logits), ("last_hidden_state", output.hidden_states[-1])):
        difference = float(np.abs(value.numpy() - reference[name]).max())
        check(f"minilm: Kiban LoRA + classifier adapter gives Kiban's {name}", difference <= 1e-4, f"max |Δ| = {difference:.2e}")


def check_checkpoint(directory):
    expected = dict(line.rsplit(" ", 1) for line in (directory / "checkpoint_names.txt").read_text().splitlines())
    with h5py.File(directory / "checkpoint.h5", "r") as file:
        stored = {name: "x".join(map(str, dataset.shape)) for name, dataset in file["model"].items()}
        check("checkpoint: parameter names", set(stored) == set(expected), str(set(stored) ^ set(expected)))
        check("checkpoint: parameter shapes", all(stored.get(n) == s for n, s in expected.items()))
        check("checkpoint: values are finite float32",
              all(d.dtype == np.float32 and np.isfinite(d[()]).all() for d in file["model"].values()))
        moments = file["optimizer/first_moment"].shape[0]
        check("checkpoint: optimizer moments", moments == file["optimizer/second_moment"].shape[0] and moments > 0)
        attributes = dict(file.attrs)
        check("checkpoint: format and step", attributes.get("format") == "kiban-checkpoint-1" and attributes.get("step") == 2,
              str({k: attributes.get(k) for k in ("format", "step")}))
        check("checkpoint: provenance", all(k in attributes for k in ("kiban_version", "created", "data_sha256"))
              and "tokens.txt" in json.loads(attributes["data_sha256"]))
        check("checkpoint: model config is JSON", json.loads(attributes["model_config"]).get("hidden_size") == 16)
        check("checkpoint: rng state", file["rng/state"].shape == (4,))


def main():
    directory = Path(sys.argv[1])
    check_masked_lm(directory / "esm")
    check_masked_lm(directory / "bert")
    check_peft_adapter(directory, "peft_base", "peft_adapter", "LoRA")
    check_peft_adapter(directory, "peft_dora_base", "peft_dora_adapter", "DoRA")
    check_minilm_adapter(directory)
    check_checkpoint(directory)
    passed = sum(RESULTS)
    print(f"{passed} passed, {len(RESULTS) - passed} failed")
    sys.exit(0 if passed == len(RESULTS) else 1)


if __name__ == "__main__":
    main()
