"""One view of every family's latent space: draw, encode (where possible) and decode.

- GANs: z ~ N(0, I) is the latent; there is no encoder (interpolate between seeds).
- VAEs: the posterior mean E[z | x] encodes, the decoder's mean decodes.
- Diffusion: DDIM inversion (eta = 0 run backwards) encodes an image into x_T and
  deterministic DDIM sampling decodes it (Song et al. 2021, section 5).
- Latent diffusion: the same, in the autoencoder's latent space: encode to the scaled
  posterior mean, then invert DDIM to z_T; decode by DDIM to z_0, then the decoder mean.

Images go in as uint8 (N, C, H, W) and come out in [-1, 1] float (N, C, H, W).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from genlab.errors import ConfigError
from genlab.models.base import Family
from genlab.nn.noise import randn

Tensor = torch.Tensor


@dataclass(frozen=True)
class LatentCodec:
    what: str  # one line: what the latent is
    draw: Callable[[int, torch.Generator], Tensor]  # n latents from the prior
    decode: Callable[[Tensor, Tensor | None], Tensor]  # latents (+ labels) -> images in [-1, 1]
    encode: Callable[[Tensor, Tensor | None], Tensor] | None  # uint8 images (+ labels) -> latents
    needs_label: bool = False  # a conditional model that cannot run without a class


def to_family_scale(images: Tensor, family: Family) -> Tensor:
    """uint8 images -> the family's data scale, on the family's device."""
    x = images.to(family.device).float() / 255.0
    return x if family.data_scale == "0,1" else x * 2 - 1


def latent_codec(family: Family) -> LatentCodec:
    """The codec of ``family``; a family without an accessible latent space raises ConfigError."""
    from genlab.models.ddpm import DDPM
    from genlab.models.gan import AdversarialFamily
    from genlab.models.ldm import LatentDiffusion
    from genlab.models.vae import VAEFamily

    if isinstance(family, AdversarialFamily):
        return _gan_codec(family)
    if isinstance(family, VAEFamily):
        return _vae_codec(family)
    if isinstance(family, DDPM):
        return _ddim_codec(family)
    if isinstance(family, LatentDiffusion):
        return _ldm_codec(family)
    raise ConfigError(f"{family.registry_name} has no latent-space tools (GAN, VAE and diffusion families do)")


def codec_labels(
    family: Family, codec: LatentCodec, label: int | None, n: int, *, name: str = "--label"
) -> Tensor | None:
    """The class of each of ``n`` decoded images, or None: unconditional models, and codecs that
    decode without a class when none is given (diffusion); a codec that needs one gets class 0.
    An out-of-range ``label`` is a ConfigError naming ``name``."""
    if not family.conditional or (label is None and not codec.needs_label):
        return None
    if label is not None and not 0 <= label < family.info.num_classes:
        raise ConfigError(f"{name} must be in 0..{family.info.num_classes - 1}, got {label}")
    return torch.full((n,), 0 if label is None else label, dtype=torch.long, device=family.device)


def _gan_codec(family) -> LatentCodec:
    cfg = family.cfg
    g = family.nets["generator_ema" if cfg.ema and cfg.sample_ema else "generator"]

    @torch.no_grad()
    def decode(z: Tensor, labels: Tensor | None) -> Tensor:
        g.eval()
        try:
            return g(z.to(family.device), _on(labels, family) if family.conditional else None).clamp(-1, 1)
        finally:
            g.train()

    return LatentCodec(
        f"generator noise z ~ N(0, I), {cfg.z_dim} dimensions",
        lambda n, gen: randn((n, cfg.z_dim), gen, family.device),
        decode,
        None,
        family.conditional,
    )


def _on(labels: Tensor | None, family: Family) -> Tensor | None:
    return None if labels is None else labels.to(family.device)


def _vae_codec(family) -> LatentCodec:
    dim = family.cfg.latent_dim

    @torch.no_grad()
    def encode(images: Tensor, labels: Tensor | None) -> Tensor:
        family.train(False)
        try:
            return family.encode(to_family_scale(images, family), _on(labels, family))[0]
        finally:
            family.train(True)

    @torch.no_grad()
    def decode(z: Tensor, labels: Tensor | None) -> Tensor:
        family.train(False)
        try:
            return family.decode_mean(z.to(family.device), labels)
        finally:
            family.train(True)

    return LatentCodec(
        f"posterior mean E[z|x], {dim} dimensions",
        lambda n, gen: randn((n, dim), gen, family.device),
        decode,
        encode,
        family.conditional,
    )


def _ddim_codec(family) -> LatentCodec:
    shape, steps = family.image_shape, family.cfg.sample_steps
    return _inverted_ddim_codec(
        family,
        f"DDIM latent x_T ({steps} steps, eta 0), shape {shape}",
        shape,
        to_space=lambda x: x,
        from_space=lambda x0: x0.clamp(-1, 1),
        clip_x0=True,
    )


def _ldm_codec(family) -> LatentCodec:
    dim, steps = family.latent_dim, family.cfg.sample_steps
    return _inverted_ddim_codec(
        family,
        f"DDIM latent z_T ({steps} steps, eta 0) of the diffusion in the autoencoder's {dim}-dimensional latent space",
        (dim,),
        to_space=family.encode_latents,
        from_space=family.decode_latents,
        clip_x0=False,  # latents have no [-1, 1] range
    )


def _inverted_ddim_codec(
    family, what: str, shape: tuple[int, ...], *, to_space, from_space, clip_x0: bool
) -> LatentCodec:
    """DDIM (eta 0) run backwards from the diffusion space to x_T, and forwards back.

    ``to_space`` maps images in the family's scale into the space the diffusion runs in
    (identity for pixels, the autoencoder's encoder for latent diffusion); ``from_space``
    maps a denoised x_0 back to images in [-1, 1]."""
    from genlab.samplers import DDIMSampler, run_sampler

    def sampler() -> DDIMSampler:
        s = DDIMSampler(family.betas, eta=0.0, clip_x0=clip_x0)
        s.set_timesteps(family.cfg.sample_steps)
        return s

    def eps_for(labels: Tensor | None):
        # Without a label a conditional model runs unconditionally (its null class, w = 0).
        labels = _on(labels, family) if family.conditional else None
        return family.eps_fn(labels, family.cfg.guidance if labels is not None else 0.0)

    @torch.inference_mode()
    def encode(images: Tensor, labels: Tensor | None) -> Tensor:
        return sampler().invert(eps_for(labels), to_space(to_family_scale(images, family)))

    @torch.inference_mode()
    def decode(x_t: Tensor, labels: Tensor | None) -> Tensor:
        return from_space(
            run_sampler(sampler(), eps_for(labels), x_t.to(family.device, copy=True), torch.Generator().manual_seed(0))
        )

    return LatentCodec(what, lambda n, gen: randn((n, *shape), gen, family.device), decode, encode)
