"""KL weighting for VAEs: annealing schedules and free bits.

Schedules are pure functions of the number of completed training steps ``step`` (0 before
the first step), computed in Python floats (float64):

- ``linear``: the weight rises linearly from 0 to ``beta`` over ``warmup_steps`` steps
  (Bowman et al. 2016, "Generating sentences from a continuous space", KL cost annealing).
- ``cyclical``: the ``warmup_steps`` span is cut into ``cycles`` equal cycles; in each the
  weight rises linearly from 0 to ``beta`` over the first ``ratio`` of the cycle and stays
  at ``beta`` for the rest (Fu et al. 2019, "Cyclical annealing schedule", eq. 5-6 with
  T = warmup_steps, M = cycles, R = ratio). After the span the weight stays at ``beta``;
  set ``warmup_steps`` to the run's total steps to reproduce the paper's schedule exactly.

Free bits (Kingma et al. 2016, "Improved variational inference with inverse autoregressive
flow", eq. 15): the KL term becomes sum_j max(lambda, E_batch[KL_j]), so no latent dimension
is pushed below ``lambda`` nats and the encoder keeps using it.
"""

from __future__ import annotations

from typing import Literal

import torch

Anneal = Literal["none", "linear", "cyclical"]


def linear_kl_weight(step: int, warmup_steps: int, beta: float = 1.0) -> float:
    """beta * min(1, step / warmup_steps); ``warmup_steps = 0`` means no warm-up (beta)."""
    if warmup_steps <= 0:
        return float(beta)
    return float(beta) * min(1.0, step / warmup_steps)


def cyclical_kl_weight(step: int, warmup_steps: int, cycles: int, ratio: float, beta: float = 1.0) -> float:
    """Fu et al. 2019: beta * min(1, tau / ratio) with tau = (step mod L) / L, L = warmup_steps / cycles.

    The position tau in the current cycle runs over [0, 1); from ``warmup_steps`` on the
    weight is ``beta``.
    """
    if warmup_steps <= 0 or step >= warmup_steps:
        return float(beta)
    cycle_length = warmup_steps / cycles
    tau = (step % cycle_length) / cycle_length
    return float(beta) * min(1.0, tau / ratio)


def kl_weight(
    schedule: Anneal, step: int, *, beta: float, warmup_steps: int, cycles: int = 1, ratio: float = 0.5
) -> float:
    """The KL weight after ``step`` completed steps under the named schedule."""
    if schedule == "none":
        return float(beta)
    if schedule == "linear":
        return linear_kl_weight(step, warmup_steps, beta)
    return cyclical_kl_weight(step, warmup_steps, cycles, ratio, beta)


def free_bits_kl(kl_per_dim: torch.Tensor, free_bits: float) -> torch.Tensor:
    """KL term with free bits: sum_j max(free_bits, mean_b KL_bj), in nats per image.

    Kingma et al. 2016, eq. 15, with one group per latent dimension. ``free_bits = 0``
    gives the plain batch-mean KL.

    Shapes: kl_per_dim (B, Z) -> scalar
    """
    per_dim = kl_per_dim.mean(dim=0)  # (B, Z) -> (Z,)
    return per_dim.clamp(min=free_bits).sum()
