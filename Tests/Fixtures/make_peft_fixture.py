"""A LoRA adapter trained by PEFT, for Kiban to load (`Tests/KibanModelsTests/PEFTFixtureTests.swift`).

Rebuilds the tiny EsmForMaskedLM of `esm_mlm.safetensors` (its config and weights), wraps
query/value with `peft.LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"])`, trains
5 AdamW steps on the fixture batch so B is non-zero, and writes into `peft_esm/`:
`adapter_config.json` + `adapter_model.safetensors` (PEFT's own `save_pretrained`) and
`logits.safetensors` with the adapted model's float32 logits on the fixture inputs (eval mode).

    python3 Tests/Fixtures/make_peft_fixture.py
"""

import json
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import EsmConfig, EsmForMaskedLM

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "peft_esm"


def base_model():
    """The esm_mlm fixture's model in float32, weights loaded from the fixture file."""
    with safe_open(HERE / "esm_mlm.safetensors", "pt") as file:
        config = EsmConfig(**json.loads(file.metadata()["config"]))
        tensors = {key: file.get_tensor(key) for key in file.keys()}
    model = EsmForMaskedLM(config)
    model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith(("input.", "out.", "grad.", "train."))})
    return model, tensors


def main():
    torch.manual_seed(0)
    model, tensors = base_model()
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["query", "value"]))
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=5e-2)
    inputs = {"input_ids": tensors["input.input_ids"], "attention_mask": tensors["input.attention_mask"]}
    for _ in range(5):
        optimizer.zero_grad()
        peft_model(**inputs, labels=tensors["input.labels"]).loss.backward()
        optimizer.step()
    peft_model.eval()
    OUTPUT.mkdir(exist_ok=True)
    peft_model.save_pretrained(OUTPUT)
    (OUTPUT / "README.md").unlink(missing_ok=True)  # PEFT's generated model card
    with torch.no_grad():
        logits = peft_model(**inputs).logits
    save_file({"logits": logits.contiguous(), **{f"input.{k}": v for k, v in inputs.items()}}, str(OUTPUT / "logits.safetensors"))
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
