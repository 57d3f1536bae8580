"""Generate PyTorch reference fixtures for Kiban's foundation tests.

Writes ``foundation.safetensors`` next to this script. Run from the repo root:

    python3 Tests/Fixtures/make_fixtures.py

Conventions (see README.md in this directory):

* Keys are ``<case>.<name>``.
* Inputs are drawn as float32 and saved as F32; they are converted to float64
  for the computation so Kiban (float32) sees exactly the same inputs.
* Reference outputs and gradients are computed in float64 and saved as F64.
  Integer labels are saved as I64.
* Each case has an upstream weight ``w`` (same shape as the output, F32); the
  scalar objective is ``(w * out).sum()`` and the gradients are of that
  objective. The ``mlp`` case instead differentiates its mean cross-entropy
  loss directly and has no ``w``.
* ``layernorm`` uses eps = 1e-5 (not stored in the file).

The output is deterministic: every input is drawn from one numpy
Generator seeded with 0.
"""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUTPUT_PATH = Path(__file__).resolve().parent / "foundation.safetensors"
LAYERNORM_EPS = 1e-5

rng = np.random.default_rng(0)


def draw(*shape, scale=1.0):
    """A float32 standard-normal tensor (times ``scale``), as used for inputs."""
    return torch.from_numpy((rng.standard_normal(shape) * scale).astype(np.float32))


def leaf(x32):
    """The float64 copy of a float32 input that gradients are taken against."""
    return x32.double().requires_grad_(True)


def weighted_backward(out, w32):
    """Backpropagate the objective (w * out).sum()."""
    (w32.double() * out).sum().backward()


def ref(t):
    """A float64 reference value, detached from the graph."""
    return t.detach().double()


def matmul_case():
    a, b = draw(5, 7), draw(7, 3)
    w = draw(5, 3)
    a64, b64 = leaf(a), leaf(b)
    out = a64 @ b64
    weighted_backward(out, w)
    return {"a": a, "b": b, "w": w, "out": ref(out),
            "grad_a": ref(a64.grad), "grad_b": ref(b64.grad)}


def matmul_transposed_case():
    # `a` is stored as (7, 5) and used transposed: out = a.T @ b.
    a, b = draw(7, 5), draw(7, 3)
    w = draw(5, 3)
    a64, b64 = leaf(a), leaf(b)
    out = a64.T @ b64
    weighted_backward(out, w)
    return {"a": a, "b": b, "w": w, "out": ref(out),
            "grad_a": ref(a64.grad), "grad_b": ref(b64.grad)}


def bmm_case():
    a, b = draw(2, 3, 4, 5), draw(2, 3, 5, 6)
    w = draw(2, 3, 4, 6)
    a64, b64 = leaf(a), leaf(b)
    out = a64 @ b64
    weighted_backward(out, w)
    return {"a": a, "b": b, "w": w, "out": ref(out),
            "grad_a": ref(a64.grad), "grad_b": ref(b64.grad)}


def bmm_broadcast_case():
    # `b` (3, 5, 6) is broadcast over the leading batch dimension of `a`.
    a, b = draw(2, 3, 4, 5), draw(3, 5, 6)
    w = draw(2, 3, 4, 6)
    a64, b64 = leaf(a), leaf(b)
    out = a64 @ b64
    weighted_backward(out, w)
    return {"a": a, "b": b, "w": w, "out": ref(out),
            "grad_a": ref(a64.grad), "grad_b": ref(b64.grad)}


def unary_case(fn, x):
    """A case with one input `x`, out = fn(x), and its gradient `grad_x`."""
    x64 = leaf(x)
    out = fn(x64)
    w = draw(*out.shape)
    weighted_backward(out, w)
    return {"x": x, "w": w, "out": ref(out), "grad_x": ref(x64.grad)}


def softmax_case():
    return unary_case(lambda x: torch.softmax(x, dim=-1), draw(4, 9))


def softmax_dim0_case():
    return unary_case(lambda x: torch.softmax(x, dim=0), draw(4, 9))


def log_softmax_case():
    return unary_case(lambda x: torch.log_softmax(x, dim=-1), draw(4, 9))


def gelu_tanh_case():
    return unary_case(lambda x: F.gelu(x, approximate="tanh"), draw(6, 11, scale=3.0))


def gelu_erf_case():
    return unary_case(lambda x: F.gelu(x, approximate="none"), draw(6, 11, scale=3.0))


def layernorm_case():
    x, weight, bias = draw(3, 4, 8), draw(8), draw(8)
    w = draw(3, 4, 8)
    x64, weight64, bias64 = leaf(x), leaf(weight), leaf(bias)
    out = F.layer_norm(x64, (8,), weight64, bias64, eps=LAYERNORM_EPS)
    weighted_backward(out, w)
    return {"x": x, "weight": weight, "bias": bias, "w": w, "out": ref(out),
            "grad_x": ref(x64.grad), "grad_weight": ref(weight64.grad),
            "grad_bias": ref(bias64.grad)}


def mlp_case():
    # Weights are (in, out), i.e. logits = x @ w1 ..., not nn.Linear's (out, in).
    x = draw(8, 10)
    w1, b1 = draw(10, 16), draw(16)
    w2, b2 = draw(16, 5), draw(5)
    labels = torch.from_numpy(rng.integers(0, 5, size=8, dtype=np.int64))
    params = {name: leaf(t) for name, t in
              {"x": x, "w1": w1, "b1": b1, "w2": w2, "b2": b2}.items()}
    hidden = F.gelu(params["x"] @ params["w1"] + params["b1"], approximate="none")
    logits = hidden @ params["w2"] + params["b2"]
    loss = F.cross_entropy(logits, labels)  # mean over the batch
    loss.backward()
    case = {"x": x, "w1": w1, "b1": b1, "w2": w2, "b2": b2, "labels": labels,
            "logits": ref(logits), "loss": ref(loss).reshape(1)}
    case.update({f"grad_{name}": ref(p.grad) for name, p in params.items()})
    return case


def loss_case(fn, x, **inputs):
    """A scalar loss of one input `x` (plus constant inputs), stored as shape (1,), and `grad_x`."""
    x64 = leaf(x)
    out = fn(x64, **{name: t.double() if t.is_floating_point() else t for name, t in inputs.items()})
    out.backward()
    return {"x": x, **inputs, "out": ref(out).reshape(1), "grad_x": ref(x64.grad)}


def cross_entropy_smoothed_weighted_case():
    labels = torch.from_numpy(rng.integers(0, 5, size=6, dtype=np.int64))
    labels[2] = -100
    class_weights = torch.from_numpy(rng.uniform(0.5, 2.0, size=5).astype(np.float32))
    return loss_case(
        lambda x, labels, class_weights: F.cross_entropy(x, labels, weight=class_weights, label_smoothing=0.1),
        draw(6, 5, scale=2.0), labels=labels, class_weights=class_weights)


def mse_case():
    return loss_case(lambda x, target: F.mse_loss(x, target), draw(4, 3), target=draw(4, 3))


def huber_case():
    return loss_case(lambda x, target: F.huber_loss(x, target, delta=1.0), draw(4, 3, scale=3.0), target=draw(4, 3))


def bce_with_logits_case():
    target = torch.from_numpy((rng.uniform(size=(4, 3)) < 0.5).astype(np.float32))
    return loss_case(lambda x, target: F.binary_cross_entropy_with_logits(x, target), draw(4, 3, scale=3.0),
                     target=target)


CASES = {
    "matmul": matmul_case,
    "matmul_transposed": matmul_transposed_case,
    "bmm": bmm_case,
    "bmm_broadcast": bmm_broadcast_case,
    "softmax": softmax_case,
    "softmax_dim0": softmax_dim0_case,
    "log_softmax": log_softmax_case,
    "layernorm": layernorm_case,
    "gelu_tanh": gelu_tanh_case,
    "gelu_erf": gelu_erf_case,
    "mlp": mlp_case,
    "cross_entropy_smoothed_weighted": cross_entropy_smoothed_weighted_case,
    "mse": mse_case,
    "huber": huber_case,
    "bce_with_logits": bce_with_logits_case,
}


def main():
    tensors = {}
    for case_name, make_case in CASES.items():
        for key, tensor in make_case().items():
            tensors[f"{case_name}.{key}"] = tensor.contiguous()
    metadata = {"generator": "Tests/Fixtures/make_fixtures.py",
                "torch": torch.__version__}
    save_file(tensors, str(OUTPUT_PATH), metadata=metadata)
    print(f"wrote {len(tensors)} tensors to {OUTPUT_PATH} "
          f"({OUTPUT_PATH.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
