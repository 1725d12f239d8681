"""The one registry that maps family names to (Config, Family).

The CLI, the checkpoint loader, the docs and the conformance tests all enumerate it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from genlab.errors import ConfigError
from genlab.models.shapes import Shape, ShapeSupport


@dataclass(frozen=True)
class FamilySpec:
    """A registered family: its name, config class, family class, presets and the shapes it builds at.

    ``presets`` are per family; a size-specific one is named for its size (``small-64``,
    ``small-128``) and the family's description says which size each is for.
    """

    name: str
    config_cls: type
    family_cls: type
    description: str
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    tiny: dict[str, Any] = field(default_factory=dict)  # smallest useful size, for tests
    dataset: str = "mnist"  # the data set `genlab train` uses when --dataset is not given
    example_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W) the tests build it for
    shapes: ShapeSupport = ShapeSupport()  # the sizes and channels it builds at (genlab.models.shapes)


_REGISTRY: dict[str, FamilySpec] = {}


def register(
    name: str,
    *,
    config: type,
    description: str,
    presets: dict[str, dict[str, Any]] | None = None,
    tiny: dict[str, Any] | None = None,
    dataset: str = "mnist",
    example_shape: tuple[int, int, int] = (1, 28, 28),
    shapes: ShapeSupport | None = None,
) -> Callable[[type], type]:
    """Class decorator: ``@register("vae", config=VAEConfig, description=...)``."""

    def wrap(family_cls: type) -> type:
        if name in _REGISTRY:
            raise ValueError(f"family {name!r} registered twice")
        support = shapes or ShapeSupport()
        _REGISTRY[name] = FamilySpec(
            name,
            config,
            family_cls,
            description,
            dict(presets or {}),
            dict(tiny or {}),
            dataset,
            example_shape,
            support,
        )
        family_cls.registry_name = name
        family_cls.shapes = support  # Family.__init__ checks a task-specific family's shape against it
        return family_cls

    return wrap


def get_family(name: str) -> FamilySpec:
    """The spec registered under ``name``; an unknown name lists the known ones."""
    _load_builtin_families()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model family {name!r}; known families: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def family_names() -> list[str]:
    """All registered family names, in registration order."""
    _load_builtin_families()
    return list(_REGISTRY)


def supported_shapes(name: str) -> tuple[Shape, ...]:
    """Every (C, H, W) family ``name`` is built and tested at, smallest side first.

    An image family lists its square sizes (28, 32, 64 and for some 128) with 1 and 3
    channels; a task-specific one (``get_family(name).shapes.task_specific``) only its data's.
    """
    return get_family(name).shapes.all()


def nearest_size(name: str, size: int) -> int:
    """The square side family ``name`` supports nearest to a data side ``size``, by ratio (a tie goes to the
    larger): 30 -> 32, 48 -> 64 (48/32 = 1.5 > 64/48), 100 -> 128 where the family lists 128, else 64."""
    return get_family(name).shapes.nearest_size(size)


def _load_builtin_families() -> None:
    import genlab.models  # noqa: F401  (importing registers the built-in families)


# A family built on another trained run (ldm on a VAE run) reads that run through a loader
# the runs layer installs when it is imported: models never import the layers above them.
RunLoader = Callable[[str, str], tuple[Any, str]]  # (run dir, checkpoint) -> (family, its registry name)
_run_loader: list[RunLoader] = []


def install_run_loader(loader: RunLoader) -> None:
    """Called by :mod:`genlab.runs` on import: how families load another run's trained family."""
    _run_loader[:] = [loader]


def load_run(path: str, which: str = "latest") -> tuple[Any, str]:
    """The trained family of run ``path`` (checkpoint ``which``) and its registry name."""
    if not _run_loader:
        import importlib

        importlib.import_module("genlab.runs")  # installs the loader (a name, not an import edge)
    return _run_loader[0](path, which)
