"""Pure functions on tensors and arrays: no state, no I/O."""

from genlab.math.gan import (
    VALUE_AT_EQUILIBRIUM,
    discriminator_loss,
    gan_value,
    generator_loss,
    jensen_shannon,
    optimal_discriminator,
)
from genlab.math.kl import kl_normal_std, kl_normal_std_per_dim
from genlab.math.likelihoods import bernoulli_nll, gaussian_nll

__all__ = [
    "VALUE_AT_EQUILIBRIUM",
    "bernoulli_nll",
    "discriminator_loss",
    "gan_value",
    "gaussian_nll",
    "generator_loss",
    "jensen_shannon",
    "kl_normal_std",
    "kl_normal_std_per_dim",
    "optimal_discriminator",
]
