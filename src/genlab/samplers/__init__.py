"""Diffusion samplers behind one small contract, independent of any network."""

from genlab.samplers.base import Sampler, run_sampler
from genlab.samplers.ddim import DDIMSampler
from genlab.samplers.ddpm import DDPMSampler

__all__ = ["DDIMSampler", "DDPMSampler", "Sampler", "run_sampler"]
