"""Model families; importing this package registers the built-in ones.

The import order is the registration order (``genlab list``, the docs, the conformance suite).
"""

# isort: off
from genlab.models import dcgan, ddpm, gan, gan_numpy, vae, vae_conv, vae_cond  # noqa: F401  (registration)
from genlab.models import vae_spatial  # noqa: F401  (first stage of text-ldm)
from genlab.models import ldm  # noqa: F401  (after vae_conv and ddpm, whose parts it uses)
from genlab.models import distill_consistency, distill_progressive  # noqa: F401  (after ddpm and ldm, their teachers)
from genlab.models import dcgan64  # noqa: F401  (after dcgan, whose nets it shares)
from genlab.models import text_ddpm, text_gan  # noqa: F401  (after ddpm, whose EMA text_ddpm uses)
from genlab.models import text_ldm  # noqa: F401  (after ldm, vae_spatial and text_ddpm, whose parts it uses)
from genlab.models import stylegan  # noqa: F401  (registration side effect)
from genlab.models import cyclegan, pix2pix  # noqa: F401  (registration side effect)

# isort: on
from genlab.models.base import Family
from genlab.models.registry import FamilySpec, family_names, get_family, nearest_size, register, supported_shapes
from genlab.models.shapes import ShapeSupport

__all__ = [
    "Family",
    "FamilySpec",
    "ShapeSupport",
    "family_names",
    "get_family",
    "nearest_size",
    "register",
    "supported_shapes",
]
