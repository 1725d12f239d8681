"""A 1-D DDPM in NumPy only, for teaching: every gradient is written out by hand.

Denoising diffusion (Ho et al. 2020) on a two-Gaussian mixture (means -2 and +2, std 0.5,
equal weights: the same mixture as ``genlab.data.toy.bimodal_1d``, sampled here with NumPy so
the module needs no torch). A tanh MLP eps_theta(x_t, t) is trained with the simple loss
(Ho et al. 2020, eq. 14) by hand-written backprop and Adam (Kingma & Ba 2015), then sampled
ancestrally over all T steps (Ho et al. 2020, Algorithm 2).

Schedule: T = 100, betas linear from 1e-4 to 0.2, so alpha-bar_T = 2.1e-5 (< 1e-3): x_T is
N(0, 1) to within ~0.005 standard deviations of signal. Timesteps t are 1..T; arrays are 0-based.
"""

from __future__ import annotations

import numpy as np

from genlab.errors import ConfigError
from genlab.math.schedules import alpha_bar, linear_betas

NUM_STEPS = 100
HIDDEN = 64
NUM_FREQS = 3  # sinusoidal time features sin/cos(2 pi k t / T), k = 1..NUM_FREQS
IN_DIM = 1 + 1 + 2 * NUM_FREQS  # [x_t, t/T, sin..., cos...]
PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def default_betas() -> np.ndarray:
    """The schedule of this model: T = 100 linear betas 1e-4 -> 0.2, float64. Shapes: -> (T,)."""
    return linear_betas(NUM_STEPS, 1e-4, 0.2)


def sample_mixture(n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw n points of 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2). Shapes: -> (n,), float64."""
    means = np.where(rng.random(n) < 0.5, -2.0, 2.0)  # (n,)
    return means + 0.5 * rng.standard_normal(n)


def init_params(rng: np.random.Generator, hidden: int = HIDDEN) -> dict[str, np.ndarray]:
    """Xavier/Glorot-uniform weights (Glorot & Bengio 2010), zero biases, float64."""
    if hidden < 1:
        raise ConfigError(f"hidden must be >= 1, got {hidden}; use e.g. 64")
    params = {}
    for i, (fan_in, fan_out) in enumerate([(IN_DIM, hidden), (hidden, hidden), (hidden, 1)], start=1):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        params[f"W{i}"] = rng.uniform(-limit, limit, size=(fan_in, fan_out))
        params[f"b{i}"] = np.zeros(fan_out)
    return params


def time_features(t: np.ndarray, num_steps: int = NUM_STEPS) -> np.ndarray:
    """[t/T, sin(2 pi k t/T), cos(2 pi k t/T)] for k = 1..NUM_FREQS. Shapes: (B,) -> (B, 1 + 2K)."""
    s = np.asarray(t, dtype=np.float64)[:, None] / num_steps  # (B, 1)
    angles = 2 * np.pi * s * np.arange(1, NUM_FREQS + 1)  # (B, K)
    return np.concatenate([s, np.sin(angles), np.cos(angles)], axis=1)


def forward(params: dict[str, np.ndarray], x_t: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, dict]:
    """eps_hat = W3^T tanh(W2^T tanh(W1^T [x_t, feats(t)] + b1) + b2) + b3.

    Shapes: x_t (B,), t (B,) ints in 1..T -> eps_hat (B,); the cache holds what backward needs.
    """
    x_t = np.asarray(x_t, dtype=np.float64)
    if x_t.ndim != 1 or np.shape(t) != x_t.shape:
        raise ConfigError(f"x_t and t must both have shape (B,), got {x_t.shape} and {np.shape(t)}")
    inputs = np.concatenate([x_t[:, None], time_features(t)], axis=1)  # (B, IN_DIM)
    h1 = np.tanh(inputs @ params["W1"] + params["b1"])  # (B, H)
    h2 = np.tanh(h1 @ params["W2"] + params["b2"])  # (B, H)
    eps_hat = (h2 @ params["W3"] + params["b3"])[:, 0]  # (B, 1) -> (B,)
    return eps_hat, {"inputs": inputs, "h1": h1, "h2": h2}


def backward(params: dict[str, np.ndarray], cache: dict, d_eps_hat: np.ndarray) -> dict[str, np.ndarray]:
    """Gradients of a scalar loss w.r.t. every parameter, given dL/d eps_hat. Shapes: (B,) -> like params.

    Uses d tanh(a)/da = 1 - tanh(a)^2.
    """
    d_out = np.asarray(d_eps_hat, dtype=np.float64)[:, None]  # (B,) -> (B, 1)
    h1, h2 = cache["h1"], cache["h2"]
    d_a2 = (d_out @ params["W3"].T) * (1.0 - h2**2)  # (B, H)
    d_a1 = (d_a2 @ params["W2"].T) * (1.0 - h1**2)  # (B, H)
    return {
        "W3": h2.T @ d_out,
        "b3": d_out.sum(axis=0),
        "W2": h1.T @ d_a2,
        "b2": d_a2.sum(axis=0),
        "W1": cache["inputs"].T @ d_a1,
        "b1": d_a1.sum(axis=0),
    }


def loss_and_grads(params: dict[str, np.ndarray], x_t: np.ndarray, t: np.ndarray, eps: np.ndarray):
    """L_simple = mean (eps - eps_theta(x_t, t))^2 (Ho et al. 2020, eq. 14) and its gradients."""
    eps_hat, cache = forward(params, x_t, t)
    diff = eps_hat - eps  # (B,)
    return float(np.mean(diff**2)), backward(params, cache, 2.0 * diff / diff.size)


def adam_step(params, grads, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam update (Kingma & Ba 2015, Algorithm 1); returns new (params, state), inputs untouched."""
    step = state["step"] + 1
    m = {k: beta1 * state["m"][k] + (1 - beta1) * grads[k] for k in params}
    v = {k: beta2 * state["v"][k] + (1 - beta2) * grads[k] ** 2 for k in params}
    new = {k: params[k] - lr * (m[k] / (1 - beta1**step)) / (np.sqrt(v[k] / (1 - beta2**step)) + eps) for k in params}
    return new, {"step": step, "m": m, "v": v}


def train(
    n_steps: int = 3000,
    batch_size: int = 256,
    lr: float = 3e-3,
    seed: int = 0,
    betas: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Fit eps_theta on fresh mixture batches (Ho et al. 2020, Algorithm 1). Returns (params, losses (n_steps,)).

    All randomness (init, data, t, noise) comes from ``np.random.default_rng(seed)``.
    """
    if n_steps < 1 or batch_size < 1:
        raise ConfigError(f"n_steps and batch_size must be >= 1, got {n_steps} and {batch_size}")
    if not lr > 0:
        raise ConfigError(f"lr must be > 0, got {lr}; try 3e-3")
    betas = default_betas() if betas is None else np.asarray(betas, dtype=np.float64)
    if betas.size != NUM_STEPS:
        raise ConfigError(f"betas must have T = {NUM_STEPS} entries (the time features assume it), got {betas.size}")
    abar = alpha_bar(betas)  # (T,)
    rng = np.random.default_rng(seed)
    params = init_params(rng)
    state = {
        "step": 0,
        "m": {k: np.zeros_like(p) for k, p in params.items()},
        "v": {k: np.zeros_like(p) for k, p in params.items()},
    }
    losses = np.empty(n_steps)
    for i in range(n_steps):
        # 1. x_0 ~ data, t ~ U{1..T}, eps ~ N(0, 1)
        x0 = sample_mixture(batch_size, rng)  # (B,)
        t = rng.integers(1, NUM_STEPS + 1, size=batch_size)  # (B,)
        eps = rng.standard_normal(batch_size)  # (B,)
        # 2. x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (Ho et al. 2020, eq. 4)
        x_t = np.sqrt(abar[t - 1]) * x0 + np.sqrt(1.0 - abar[t - 1]) * eps
        # 3. gradient step on L_simple
        losses[i], grads = loss_and_grads(params, x_t, t, eps)
        # 4. cosine decay of lr to 0 (Loshchilov & Hutter 2017): late Adam noise would blur the modes
        params, state = adam_step(params, grads, state, lr * 0.5 * (1 + np.cos(np.pi * i / n_steps)))
    return params, losses


def sample(
    params: dict[str, np.ndarray],
    n: int,
    rng: np.random.Generator,
    betas: np.ndarray | None = None,
) -> np.ndarray:
    """Ancestral DDPM sampling from x_T ~ N(0, 1) over all T steps (Ho et al. 2020, Algorithm 2). Shapes: -> (n,).

    Uses sigma_t^2 = beta_t (the paper's first choice); no clipping.
    """
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    if missing := [k for k in PARAM_NAMES if k not in params]:
        raise ConfigError(f"params lack {missing}; build them with init_params or train")
    betas = default_betas() if betas is None else np.asarray(betas, dtype=np.float64)
    if betas.size != NUM_STEPS:
        raise ConfigError(f"betas must have T = {NUM_STEPS} entries (the time features assume it), got {betas.size}")
    abar = alpha_bar(betas)  # (T,)
    x = rng.standard_normal(n)  # (n,) x_T
    for t in range(betas.size, 0, -1):
        beta, ab = betas[t - 1], abar[t - 1]
        eps_hat, _ = forward(params, x, np.full(n, t))  # (n,)
        # x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) eps_hat) / sqrt(alpha_t) + sigma_t z  (Algorithm 2, line 4)
        x = (x - beta / np.sqrt(1.0 - ab) * eps_hat) / np.sqrt(1.0 - beta)
        if t > 1:
            x = x + np.sqrt(beta) * rng.standard_normal(n)
    return x
