"""Which adapter exports which family: one entry per family class, looked up along the class's MRO.

A family without an entry, or one whose adapter refuses its config, cannot be exported;
:func:`exportable` says why in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genlab.errors import ConfigError
from genlab.export.diffusion import ddpm_exportable, ldm_exportable, text_ddpm_exportable
from genlab.export.generators import attr_gan_exportable, gan_exportable, stylegan_exportable, vae_exportable
from genlab.export.graphs import Exportable
from genlab.export.students import student_exportable
from genlab.export.translation import cyclegan_exportable, pix2pix_exportable
from genlab.models.base import Family
from genlab.models.cyclegan import CycleGAN
from genlab.models.ddpm import DDPM
from genlab.models.distill_base import DistilledDiffusion
from genlab.models.gan import AdversarialFamily
from genlab.models.ldm import LatentDiffusion
from genlab.models.pix2pix import Pix2Pix
from genlab.models.stylegan import StyleGANLite
from genlab.models.text_ddpm import TextDDPM
from genlab.models.text_gan import AttrGAN
from genlab.models.vae import VAEFamily

Data = Callable[[], tuple[Any, Any]]  # () -> (uint8 images, labels) of the run's train split, loaded on first use

ADAPTERS: dict[type, Callable[[Any, Data], Exportable]] = {
    AdversarialFamily: lambda f, data: gan_exportable(f),  # gan, cgan, dcgan, cdcgan, wgan, wgan-gp, dcgan64
    AttrGAN: lambda f, data: attr_gan_exportable(f),
    StyleGANLite: lambda f, data: stylegan_exportable(f),
    VAEFamily: vae_exportable,  # vae, conv-vae, cvae
    DDPM: ddpm_exportable,
    LatentDiffusion: ldm_exportable,
    TextDDPM: text_ddpm_exportable,
    Pix2Pix: pix2pix_exportable,
    CycleGAN: cyclegan_exportable,
    DistilledDiffusion: student_exportable,  # ddpm-progressive, ddpm-consistency
}


def exportable(family: Family, data: Data) -> Exportable:
    """The family's graphs and sampling path; a ConfigError in one line when it cannot be exported."""
    name = family.registry_name
    if not family.trains_in_torch:
        raise ConfigError(f"cannot export {name}: it samples in NumPy, so it has no torch network to export")
    build = next((ADAPTERS[cls] for cls in type(family).__mro__ if cls in ADAPTERS), None)
    if build is None:
        raise ConfigError(f"cannot export {name}: no export adapter for this family (genlab.export.adapters)")
    try:
        return build(family, data)
    except ValueError as e:
        raise ConfigError(f"cannot export this {name} run: {e}") from None


def exportable_families() -> list[str]:
    """Registered families that have an adapter (in registry order)."""
    from genlab.models.registry import family_names, get_family

    return [
        n
        for n in family_names()
        if get_family(n).family_cls.trains_in_torch and any(c in ADAPTERS for c in get_family(n).family_cls.__mro__)
    ]
