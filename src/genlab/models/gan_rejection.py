"""Discriminator Rejection Sampling (Azadi et al. 2019): a post-hoc sampler on a trained GAN.

With the BCE loss the optimal discriminator's logit is log p_data(x) - log p_g(x)
(Goodfellow et al. 2014, prop. 1), so accepting a generated x with probability
p_data(x) / (M p_g(x)) = exp(logit(x) - max logit) turns G's samples into samples of
p_data (rejection sampling). DRS (Azadi et al. 2019) does this with the
trained D in place of the optimal one and two practical changes:

- the maximum logit M is estimated on a burn-in set of generated samples and raised
  whenever a larger logit is seen;
- the acceptance probability is computed in logit space, F(x) = l - M - log(1 - exp(l - M - eps)) - gamma,
  p = sigmoid(F); gamma shifts every score and is set per batch so that a fixed quantile
  of F (before the shift) is 0 (the paper's 95th percentile: about 5 % of each batch is
  accepted with p >= 1/2, the rest with less).

genlab's option ``rejection=drs`` takes the logit from a dedicated per-sample critic (the
body of the family's D, pack 1, BCE loss) trained beside the game on the same real
batches and G's current samples, at D's learning rate and never decayed, so that it
keeps fitting the final G when the game's learning rates are decayed to 0. It never
enters G's loss: training G is unchanged, only which of G's samples are returned. A
separate critic is needed because a packed D (PacGAN) scores packs, not samples, a
Wasserstein critic is not a density-ratio estimator, and an R1-penalised D is kept
smooth on purpose.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from genlab.errors import ConfigError, GenlabError
from genlab.math.gan import discriminator_loss
from genlab.nn.noise import rand

EPS = 1e-6  # keeps log(1 - exp(l - M - eps)) finite at the maximum (Azadi et al. 2019)


def drs_scores(logits: torch.Tensor, max_logit: float, eps: float = EPS) -> torch.Tensor:
    """F(x) before the gamma shift: l - M - log(1 - exp(l - M - eps)) (Azadi et al. 2019).

    With gamma = 0, sigmoid of this is exp(l - M) up to O(eps): the ideal acceptance
    probability p_data / (M p_g) when l is the optimal discriminator's logit. Shapes: (N,) -> (N,), float64 internally.
    """
    a = logits.double() - max_logit - eps  # <= -eps < 0 when max_logit >= every logit
    return a + eps - torch.log(-torch.expm1(a))


def drs_acceptance(logits: torch.Tensor, max_logit: float, gamma: float, eps: float = EPS) -> torch.Tensor:
    """Acceptance probabilities sigmoid(F(x) - gamma). Shapes: (N,) -> (N,) float64 in (0, 1)."""
    return torch.sigmoid(drs_scores(logits, max_logit, eps) - gamma)


def discriminator_rejection_sample(
    generate: Callable[[int, torch.Generator], torch.Tensor],
    logit: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    *,
    generator: torch.Generator,
    quantile: float = 0.95,
    burn_in: int = 10_000,
    batch_size: int = 1000,
    max_batches: int = 10_000,
) -> tuple[torch.Tensor, float]:
    """Draw exactly ``n`` samples of G accepted by DRS; returns (samples, acceptance rate).

    ``generate(m, generator)`` returns m samples (m, ...); ``logit(x)`` D's logits (m,).
    Every random draw (z inside ``generate``, the uniforms) comes from ``generator``.
    Shapes: returns (n, ...) in the order accepted, and the fraction of proposals accepted.
    """
    if n < 0:
        raise ConfigError(f"the number of samples must be >= 0, got {n}")
    # 1. Burn-in: estimate the maximum logit over generated samples.
    max_logit = -float("inf")
    for start in range(0, burn_in, batch_size):
        max_logit = max(max_logit, logit(generate(min(batch_size, burn_in - start), generator)).max().item())
    kept: list[torch.Tensor] = []
    accepted = proposed = 0
    for _ in range(max_batches):
        if accepted >= n:
            break
        # 2. Score a batch, raising M when a larger logit appears.
        x = generate(batch_size, generator)
        logits = logit(x)
        max_logit = max(max_logit, logits.max().item())
        scores = drs_scores(logits, max_logit)
        # 3. Shift so that the chosen quantile of F is 0, then accept with sigmoid(F - gamma).
        gamma = torch.quantile(scores, quantile).item()
        keep = rand((batch_size,), generator, scores.device, torch.float64) < torch.sigmoid(scores - gamma)
        kept.append(x[keep])
        accepted += int(keep.sum())
        proposed += batch_size
    if accepted < n:
        raise GenlabError(
            f"rejection sampling accepted only {accepted} of {proposed} proposals, fewer than the {n} asked for; "
            "lower drs_quantile"
        )
    return torch.cat(kept)[:n], accepted / max(proposed, 1)


def drs_critic_step(critic: nn.Module, opt: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor) -> float:
    """One BCE step of the rejection critic on a real and a (detached) fake batch; returns its loss.

    At the optimum its logit is log p_data(x) - log p_g(x) (Goodfellow et al. 2014, prop. 1).
    Shapes: real (B, C, H, W), fake (B', C, H, W).
    """
    loss = discriminator_loss(critic(real), critic(fake), kind="non-saturating")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()
