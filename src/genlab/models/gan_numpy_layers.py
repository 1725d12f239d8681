"""The maths of the NumPy GAN, with every gradient written by hand: MLPs, the GAN losses, Adam.

NumPy only (no torch), for teaching. Each function works in the dtype of its inputs:
float32 to train, float64 to check the gradients against autograd and finite differences.

Parameters of an MLP with widths (d_0, ..., d_n) are a dict ``{"W1": (d_0, d_1), "b1": (d_1,),
..., "Wn": (d_{n-1}, d_n), "bn": (d_n,)}``; layer i computes a_i = h_{i-1} W_i + b_i, hidden
layers apply LeakyReLU(0.2) and the last one either nothing (logits) or tanh (data in [-1, 1]).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from genlab.errors import ConfigError

LEAKY_SLOPE = 0.2
Output = Literal["linear", "tanh"]


def init_mlp(widths: list[int], rng: np.random.Generator, dtype: type = np.float32) -> dict[str, np.ndarray]:
    """Xavier/Glorot-uniform weights U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010), zero biases."""
    if len(widths) < 2 or min(widths) < 1:
        raise ConfigError(f"an MLP needs at least two widths, all >= 1; got {list(widths)}")
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        params[f"W{i}"] = rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(dtype)
        params[f"b{i}"] = np.zeros(fan_out, dtype=dtype)
    return params


def num_layers(params: dict[str, np.ndarray]) -> int:
    """Number of linear layers n of an MLP parameter dict (keys W1..Wn, b1..bn)."""
    n = sum(1 for k in params if k.startswith("W"))
    if n == 0 or any(f"W{i}" not in params or f"b{i}" not in params for i in range(1, n + 1)):
        raise ConfigError(f"MLP parameters must be W1..Wn and b1..bn, got {sorted(params)}")
    return n


def leaky_relu(a: np.ndarray, slope: float = LEAKY_SLOPE) -> np.ndarray:
    """max(a, slope * a) for 0 < slope < 1."""
    return np.where(a > 0, a, slope * a)


def leaky_relu_grad(a: np.ndarray, slope: float = LEAKY_SLOPE) -> np.ndarray:
    """d leaky_relu / da: 1 where a > 0, else ``slope`` (PyTorch's choice at a = 0)."""
    return np.where(a > 0, np.ones_like(a), np.full_like(a, slope))


def mlp_forward(params: dict[str, np.ndarray], x: np.ndarray, output: Output = "linear") -> tuple[np.ndarray, dict]:
    """Run the MLP. Shapes: x (B, d_0) -> (B, d_n); the cache holds each layer's input and pre-activation."""
    n = num_layers(params)
    if x.ndim != 2 or x.shape[1] != params["W1"].shape[0]:
        raise ConfigError(f"MLP input must have shape (B, {params['W1'].shape[0]}), got {x.shape}")
    inputs, pre = [], []
    h = x
    for i in range(1, n + 1):
        inputs.append(h)
        a = h @ params[f"W{i}"] + params[f"b{i}"]  # (B, d_{i-1}) -> (B, d_i)
        pre.append(a)
        h = leaky_relu(a) if i < n else (np.tanh(a) if output == "tanh" else a)
    return h, {"inputs": inputs, "pre": pre, "out": h, "output": output}


def mlp_backward(
    params: dict[str, np.ndarray], cache: dict, d_out: np.ndarray, *, param_grads: bool = True
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Backprop dL/d(output) through the MLP. Shapes: d_out (B, d_n) -> (grads like params, dL/dx (B, d_0)).

    With ``param_grads=False`` only dL/dx is computed (the generator's loss needs D's input
    gradient, not D's weight gradients). Uses d tanh(a)/da = 1 - tanh(a)^2.
    """
    n = num_layers(params)
    d = d_out * (1.0 - cache["out"] ** 2) if cache["output"] == "tanh" else d_out  # dL/da_n, (B, d_n)
    grads: dict[str, np.ndarray] = {}
    for i in range(n, 0, -1):
        if param_grads:
            grads[f"W{i}"] = cache["inputs"][i - 1].T @ d  # (d_{i-1}, B) @ (B, d_i)
            grads[f"b{i}"] = d.sum(axis=0)
        d = d @ params[f"W{i}"].T  # dL/dh_{i-1}, (B, d_{i-1})
        if i > 1:
            d = d * leaky_relu_grad(cache["pre"][i - 2])  # dL/da_{i-1}
    return grads, d


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x), finite for any x (log-sum-exp with 0)."""
    return np.logaddexp(0.0, x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) without overflow: e^-|x| is at most 1."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def discriminator_loss(real_logits: np.ndarray, fake_logits: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """BCE of D: mean softplus(-l_real) + mean softplus(l_fake) = -E log D(x) - E log(1 - D(G(z))).

    Returns (loss, dL/d real_logits, dL/d fake_logits); d softplus(x)/dx = sigmoid(x).
    Shapes: (B,), (B') -> float, (B,), (B').
    """
    loss = softplus(-real_logits).mean() + softplus(fake_logits).mean()
    return float(loss), -sigmoid(-real_logits) / real_logits.size, sigmoid(fake_logits) / fake_logits.size


def generator_loss(fake_logits: np.ndarray) -> tuple[float, np.ndarray]:
    """Non-saturating G loss -E log D(G(z)) = mean softplus(-l) (Goodfellow et al. 2014, section 3).

    Returns (loss, dL/d fake_logits). Shapes: (B,) -> float, (B,).
    """
    return float(softplus(-fake_logits).mean()), -sigmoid(-fake_logits) / fake_logits.size


def discriminator_loss_and_grads(
    d_params: dict[str, np.ndarray], real: np.ndarray, fake: np.ndarray
) -> tuple[float, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """D's BCE loss and its gradient w.r.t. every D parameter; G's samples are constants here.

    Shapes: real (B, D), fake (B', D) -> loss, grads like d_params, real logits (B,), fake logits (B').
    Real and fake go through D as one (B + B', D) batch.
    """
    b = real.shape[0]
    logits, cache = mlp_forward(d_params, np.concatenate([real, fake]), "linear")  # (B + B', 1)
    logits = logits[:, 0]
    loss, d_real, d_fake = discriminator_loss(logits[:b], logits[b:])
    grads, _ = mlp_backward(d_params, cache, np.concatenate([d_real, d_fake])[:, None])
    return loss, grads, logits[:b], logits[b:]


def generator_loss_and_grads(
    g_params: dict[str, np.ndarray],
    d_params: dict[str, np.ndarray],
    z: np.ndarray,
    g_forward: tuple[np.ndarray, dict] | None = None,
) -> tuple[float, dict[str, np.ndarray]]:
    """G's non-saturating loss and its gradient w.r.t. every G parameter, backpropagated through D.

    Chain rule: dL/dθ_G = dL/dl · dl/dx · dx/dθ_G with l = D(x), x = G(z); D's weights stay fixed.
    ``g_forward`` = ``mlp_forward(g_params, z, "tanh")`` when the caller already has it.
    Shapes: z (B, z_dim) -> loss, grads like g_params.
    """
    fake, g_cache = g_forward if g_forward is not None else mlp_forward(g_params, z, "tanh")  # (B, D)
    logits, d_cache = mlp_forward(d_params, fake, "linear")  # (B, 1)
    loss, d_logits = generator_loss(logits[:, 0])
    _, d_fake = mlp_backward(d_params, d_cache, d_logits[:, None], param_grads=False)  # dL/dx, (B, D)
    grads, _ = mlp_backward(g_params, g_cache, d_fake)
    return loss, grads


def adam_init(params: dict[str, np.ndarray]) -> dict:
    """Adam's state before the first step: step 0, zero first and second moments."""
    return {
        "step": 0,
        "m": {k: np.zeros_like(p) for k, p in params.items()},
        "v": {k: np.zeros_like(p) for k, p in params.items()},
    }


def adam_step(
    params: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    state: dict,
    lr: float,
    beta1: float = 0.5,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[dict[str, np.ndarray], dict]:
    """One Adam update (Kingma & Ba 2015, Algorithm 1); returns new (params, state), inputs untouched.

    beta1 = 0.5 by default, as in DCGAN practice (Radford et al. 2016). Written as PyTorch
    does it: p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
    """
    step = state["step"] + 1
    m = {k: beta1 * state["m"][k] + (1 - beta1) * grads[k] for k in params}
    v = {k: beta2 * state["v"][k] + (1 - beta2) * grads[k] ** 2 for k in params}
    bc1, bc2 = 1 - beta1**step, 1 - beta2**step  # Python floats: keep float32 arrays float32
    new = {k: params[k] - (lr / bc1) * m[k] / (np.sqrt(v[k]) / math.sqrt(bc2) + eps) for k in params}
    return new, {"step": step, "m": m, "v": v}
