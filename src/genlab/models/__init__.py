"""Model families; importing this package registers the built-in ones."""

from genlab.models import dcgan, ddpm, gan, vae  # noqa: F401  (registration side effect)
from genlab.models.base import Family
from genlab.models.registry import FamilySpec, family_names, get_family, register

__all__ = ["Family", "FamilySpec", "family_names", "get_family", "register"]
