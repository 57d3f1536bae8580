"""Adapters made by PEFT, for Kiban to load (`Tests/KibanModelsTests/PEFTFixtureTests.swift`,
`PEFTWeightedAdapterTests.swift`, `PEFTModulesToSaveTests.swift`).

Rebuilds the tiny EsmForMaskedLM of `esm_mlm.safetensors` (its config and weights) and writes:

* `peft_esm/`: `peft.LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"])` trained 5
  AdamW steps on the fixture batch so B is non-zero; `adapter_config.json` +
  `adapter_model.safetensors` (PEFT's own `save_pretrained`), `logits.safetensors` (float32
  logits of the float32 model, eval mode) and `gradients.safetensors` (below).
* `peft_esm_dora/`: the same with `use_dora=True`, so each adapted Linear also has the magnitude
  vector `lora_magnitude_vector` (one value per output feature); adapter files + `gradients.safetensors`.
* `peft_weighted/`: three LoRA adapters with random A and B (`init_lora_weights=False`): `a` (r 4,
  α 8, query + value), `b` (r 4, α 2, query + value), `c` (r 2, α 6, query only), and the
  `add_weighted_adapter` combinations listed in `COMBINATIONS` (one per combination type, plus
  `svd_clamped` for `svd_rank` and `svd_clamp`); one folder per adapter
  (`save_pretrained(selected_adapters=...)`), `logits.safetensors` with the float64 logits of each
  combination active (`logits.<combination>`), and `dare_masks.safetensors` with the keep-masks
  PEFT's DARE drew (`torch.bernoulli`, captured while `add_weighted_adapter` ran), as
  `<combination>.<layer path>.<lora_A|lora_B>.<adapter>`, stored as F16 0/1.
* `peft_modules_to_save/`: two LoRA adapters `x` (query) and `y` (value), r 2, α 4, random, each
  with its own copy of `lm_head.layer_norm` in `modules_to_save` (the copies perturbed so the two
  heads differ); one folder per adapter and `logits.safetensors` with the float64 logits of each
  adapter active (`logits.x`, `logits.y`).

`gradients.safetensors` evaluates the saved adapter on the fixture batch in float64 (the float32
weights converted exactly; eval mode, all dropout 0): `input.*`, `logits`, `loss` (mean masked-LM
cross-entropy, shape (1,)) and `grad.<name>` for every trainable parameter under its live module
name without PEFT's `base_model.model.` prefix, e.g.
`grad.esm.encoder.layer.0.attention.self.query.lora_magnitude_vector.default.weight` (Kiban's
parameter names). DoRA's weight norm ‖W + scaling·B·A‖ is detached in PEFT's forward, so these
gradients treat it as a constant.

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


def base_model():
    """The esm_mlm fixture's model in float32, weights loaded from the fixture file."""
    with safe_open(HERE / "esm_mlm.safetensors", "pt") as file:
        config = EsmConfig(**json.loads(file.metadata()["config"]))
        tensors = {key: file.get_tensor(key) for key in file.keys()}
    model = EsmForMaskedLM(config)
    model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith(("input.", "out.", "grad.", "train."))})
    return model, tensors


def fixture_inputs(tensors):
    return {"input_ids": tensors["input.input_ids"], "attention_mask": tensors["input.attention_mask"]}


def train(peft_model, tensors, steps=5):
    """Full-batch AdamW steps (lr 5e-2) on the fixture's masked-LM loss."""
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=5e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        peft_model(**fixture_inputs(tensors), labels=tensors["input.labels"]).loss.backward()
        optimizer.step()


def save_adapter(peft_model, folder, **kwargs):
    peft_model.save_pretrained(folder, **kwargs)
    (folder / "README.md").unlink(missing_ok=True)  # PEFT's generated model card


def write_gradients(peft_model, tensors, path):
    """Logits, loss and trainable-parameter gradients in float64 (see the module docstring)."""
    peft_model.double()
    peft_model.eval()
    peft_model.zero_grad()
    inputs = fixture_inputs(tensors)
    output = peft_model(**inputs, labels=tensors["input.labels"])
    output.loss.backward()
    gradients = {
        f"grad.{name.removeprefix('base_model.model.')}": parameter.grad.detach().clone()
        for name, parameter in peft_model.named_parameters() if parameter.requires_grad
    }
    assert gradients and all(g.abs().sum() > 0 for g in gradients.values()), "every adapter parameter gets a gradient"
    save_file({
        "logits": output.logits.detach().contiguous(), "loss": output.loss.detach().reshape(1), **gradients,
        **{f"input.{k}": v for k, v in inputs.items()}, "input.labels": tensors["input.labels"],
    }, str(path))


def make_trained(name, **lora):
    """peft_esm (LoRA) or peft_esm_dora (DoRA): train, save, record logits and gradients."""
    torch.manual_seed(0)
    model, tensors = base_model()
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["query", "value"], **lora))
    train(peft_model, tensors)
    peft_model.eval()
    output = HERE / name
    output.mkdir(exist_ok=True)
    save_adapter(peft_model, output)
    if not lora:  # the float32 logits the first PEFT fixture test reads
        inputs = fixture_inputs(tensors)
        with torch.no_grad():
            logits = peft_model(**inputs).logits
        save_file({"logits": logits.contiguous(), **{f"input.{k}": v for k, v in inputs.items()}}, str(output / "logits.safetensors"))
    write_gradients(peft_model, tensors, output / "gradients.safetensors")
    print(f"wrote {output}")


# name: (adapters, weights, add_weighted_adapter keywords), added in this order: DARE's masks depend
# on the random state that the earlier additions leave.
COMBINATIONS = {
    "linear": (["a", "b"], [0.7, -0.4], {"combination_type": "linear"}),
    "cat": (["a", "c"], [0.5, 1.5], {"combination_type": "cat"}),
    "svd": (["a", "c"], [0.5, 1.5], {"combination_type": "svd"}),
    "svd_clamped": (["a", "b", "c"], [0.7, -0.4, 1.5], {"combination_type": "svd", "svd_rank": 3, "svd_clamp": 0.9}),
    "ties": (["a", "b"], [0.7, -0.4], {"combination_type": "ties", "density": 0.5}),
    "magnitude_prune": (["a", "b"], [0.7, -0.4], {"combination_type": "magnitude_prune", "density": 0.5}),
    "dare_linear": (["a", "b"], [0.7, -0.4], {"combination_type": "dare_linear", "density": 0.6}),
    "dare_ties": (["a", "b"], [0.7, -0.4],
                  {"combination_type": "dare_ties", "density": 0.6, "majority_sign_method": "frequency"}),
}


def add_capturing_masks(peft_model, name, adapters, weights, keywords):
    """add_weighted_adapter, recording every torch.bernoulli mask under
    `<name>.<layer path>.<lora_A|lora_B>.<adapter>`: DARE prunes, on each layer, the A of every
    adapter that layer holds (in `adapters` order), then their B."""
    layer_names = {id(module): path for path, module in peft_model.base_model.model.named_modules()}
    pending, masks = [], {}
    lora_model = type(peft_model.base_model)
    generalized = lora_model._generalized_task_arithmetic_weighted_adapter
    bernoulli = torch.bernoulli

    def labelled(self, combination_type, adapters, weights, target, *args):
        held = [adapter for adapter in adapters if adapter in target.lora_A] if combination_type.startswith("dare") else []
        pending.extend(f"{name}.{layer_names[id(target)]}.{factor}.{adapter}" for factor in ("lora_A", "lora_B") for adapter in held)
        return generalized(self, combination_type, adapters, weights, target, *args)

    def recorded(probabilities, *args, **kwargs):
        mask = bernoulli(probabilities, *args, **kwargs)
        masks[pending.pop(0)] = mask.to(torch.float16)
        return mask

    lora_model._generalized_task_arithmetic_weighted_adapter, torch.bernoulli = labelled, recorded
    try:
        peft_model.add_weighted_adapter(adapters, weights, name, **keywords)
    finally:
        lora_model._generalized_task_arithmetic_weighted_adapter, torch.bernoulli = generalized, bernoulli
    assert not pending, f"{name}: {len(pending)} masks expected but not drawn"
    return masks


def make_weighted():
    """peft_weighted: a, b, c and their add_weighted_adapter combinations (COMBINATIONS)."""
    torch.manual_seed(0)
    model, tensors = base_model()
    adapters = {
        "a": LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"], init_lora_weights=False),
        "b": LoraConfig(r=4, lora_alpha=2, target_modules=["query", "value"], init_lora_weights=False),
        "c": LoraConfig(r=2, lora_alpha=6, target_modules=["query"], init_lora_weights=False),
    }
    peft_model = get_peft_model(model, adapters["a"], adapter_name="a")
    for name in ("b", "c"):
        peft_model.add_adapter(name, adapters[name])
    masks = {}
    for name, (combined, weights, keywords) in COMBINATIONS.items():
        masks.update(add_capturing_masks(peft_model, name, combined, weights, keywords))
    output = HERE / "peft_weighted"
    output.mkdir(exist_ok=True)
    save_adapter(peft_model, output, selected_adapters=["a", "b", "c", *COMBINATIONS])
    save_file(masks, str(output / "dare_masks.safetensors"))
    peft_model.double()
    peft_model.eval()
    inputs = fixture_inputs(tensors)
    logits = {}
    for name in COMBINATIONS:
        peft_model.set_adapter(name)
        with torch.no_grad():
            logits[f"logits.{name}"] = peft_model(**inputs).logits.contiguous()
    save_file({**logits, **{f"input.{k}": v for k, v in inputs.items()}}, str(output / "logits.safetensors"))
    print(f"wrote {output}")


def make_modules_to_save():
    """peft_modules_to_save: adapters x and y, each with its own lm_head.layer_norm."""
    torch.manual_seed(0)
    model, tensors = base_model()
    configs = {
        name: LoraConfig(r=2, lora_alpha=4, target_modules=[target], modules_to_save=["lm_head.layer_norm"], init_lora_weights=False)
        for name, target in (("x", "query"), ("y", "value"))
    }
    peft_model = get_peft_model(model, configs["x"], adapter_name="x")
    peft_model.add_adapter("y", configs["y"])
    copies = peft_model.base_model.model.lm_head.layer_norm.modules_to_save
    with torch.no_grad():
        for name in ("x", "y"):
            for parameter in copies[name].parameters():
                parameter.add_(0.3 * torch.randn_like(parameter))
    output = HERE / "peft_modules_to_save"
    output.mkdir(exist_ok=True)
    save_adapter(peft_model, output, selected_adapters=["x", "y"])
    peft_model.double()
    peft_model.eval()
    inputs = fixture_inputs(tensors)
    logits = {}
    for name in ("x", "y"):
        peft_model.set_adapter(name)
        with torch.no_grad():
            logits[f"logits.{name}"] = peft_model(**inputs).logits.contiguous()
    save_file({**logits, **{f"input.{k}": v for k, v in inputs.items()}}, str(output / "logits.safetensors"))
    print(f"wrote {output}")


def main():
    make_trained("peft_esm")
    make_trained("peft_esm_dora", use_dora=True)
    make_weighted()
    make_modules_to_save()


if __name__ == "__main__":
    main()
