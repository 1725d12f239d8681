"""Typed, frozen, flat configs: dict/YAML round trip and type-checked ``--set key=value``.

Every family has one frozen dataclass of model options; :class:`TrainConfig` holds what
the trainer needs. Both are flat, so a ``--set`` key names exactly one field.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from genlab.data.options import DataOptions
from genlab.errors import ConfigError, DataError, short_repr
from genlab.files import MAX_CONFIG_BYTES, loads_yaml, read_text
from genlab.marks.visible import DEFAULT_TEXT, VisibleWatermark

MAX_SEED = 2**32 - 1  # numpy's RandomState (KID subsets) takes seeds below 2^32; torch's below 2^64
# The step cap of a run sized by its wall-clock budget alone (max_minutes with neither steps nor epochs
# named): the budget ends it long before (10 million steps at 1 000 steps/s is almost 3 hours).
BUDGET_ONLY_STEPS = 10**7


@dataclass(frozen=True)
class TrainConfig:
    """What the trainer needs; the family's own options live in its config class."""

    dataset: str = "mnist"  # a name (mnist, shapes64, ...) or a path: folder/.zip/.tar of images, IDX, CIFAR bin, .npz
    # how a path is prepared (genlab.data.options.DataOptions; a named set takes image_size/channels/labels=none)
    image_size: int = 0  # square side in pixels; 0 = the data's own, rounded to the nearest of 28, 32, 64, 128
    channels: int = 0  # 1 (grey) or 3 (RGB); 0 = the data's own
    crop: Literal["center", "none"] = "center"  # centre square, or pad to a square with the background
    labels: Literal["auto", "folders", "none"] = "auto"  # class folders as labels (auto: when every image is in one)
    test_fraction: float = 0.1  # held out (seeded) when the data has no test split of its own
    background: str = "white"  # transparent pixels and padding become this colour
    strict: bool = False  # a corrupt or unreadable image is an error instead of being skipped
    # image-to-image pairs: auto = the translation family's pairing on a path (pix2pix paired, cyclegan unpaired),
    # plain images otherwise; none, paired (A/ B/ matched by name, else side-by-side), ab, side-by-side, unpaired
    # (named pair_layout, not pairs: pix2pix's own `pairs` key names its built-in set)
    pair_layout: Literal["auto", "none", "paired", "ab", "side-by-side", "unpaired"] = "auto"
    data_license: str = ""  # the data's licence, quoted in the model card
    seed: int = 0
    batch_size: int = 128
    steps: int = 0  # total optimisation steps; 0 means "use epochs"
    epochs: int = 1
    log_every: int = 50  # steps between lines in metrics.jsonl
    sample_every: int = 0  # steps between sample grids; 0 means once per epoch
    checkpoint_every: int = 0  # steps between checkpoints; 0 means once per epoch
    keep_last: int = 3  # step checkpoints kept besides the final one
    grid_size: int = 64  # images in each fixed-noise sample grid
    eval_batch_size: int = 500
    eval_every: int = 0  # steps between FID evaluations (0 = off); keeps checkpoints/best by FID
    eval_samples: int = 2000  # samples drawn for each of those evaluations
    visible_watermark: bool = True  # "AI GENERATED" band and tiles on sample grids; off prints a warning
    watermark_text: str = DEFAULT_TEXT  # the band's text
    watermark_key: str = ""  # file from `genlab keys new` (watermark.key): embed the invisible mark too
    sign_key: str = ""  # Ed25519 private key PEM (signing-key.pem): sign every PNG's provenance
    # labels left out of the train split (anomaly detection); test stays whole
    exclude_classes: tuple[int, ...] = ()
    nonfinite: Literal["stop", "skip", "rollback"] = (
        # a NaN/Inf loss: stop at once, undo that step and go on, or also roll back (genlab.training.faults)
        "stop"
    )
    # skip: stop after this many non-finite steps in a row; rollback: roll back then
    nonfinite_patience: int = 10
    rollback_lr_factor: float = 0.5  # rollback: every optimiser's lr is multiplied by this at each rollback
    max_rollbacks: int = 3  # rollback: stop when the run needs more rollbacks than this
    max_minutes: float = 0.0  # wall-clock training budget summed over resumes (0 = none); ends the run early
    # bfloat16: each training step under autocast (weights and optimiser state stay float32; sampling stays float32)
    precision: Literal["float32", "bfloat16"] = "float32"
    channels_last: bool = False  # nets and image batches in channels-last memory (genlab.training.speed)
    fused_optimizer: bool = False  # fused kernels for the optimisers that have one (Adam, AdamW, SGD)
    # experiment tracking beside metrics.jsonl (the source of truth): tensorboard writes RUN/tensorboard/
    tracker: Literal["none", "tensorboard"] = "none"
    progress_every: float = 30.0  # seconds between plain progress lines when stderr is not a terminal

    @property
    def budget_only(self) -> bool:
        """Whether ``max_minutes`` alone sizes this run (its steps are the :data:`BUDGET_ONLY_STEPS` cap)."""
        return self.max_minutes > 0 and self.steps >= BUDGET_ONLY_STEPS

    def check(self) -> None:
        """Raise :class:`ConfigError` for values that cannot work."""
        for name in (
            "batch_size",
            "epochs",
            "log_every",
            "keep_last",
            "grid_size",
            "eval_batch_size",
            "eval_samples",
            "nonfinite_patience",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("steps", "sample_every", "checkpoint_every", "seed", "eval_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.seed > MAX_SEED:
            raise ConfigError(f"seed must be at most {MAX_SEED} (2^32 - 1), got {short_repr(self.seed)}")
        if not 0 < self.progress_every < float("inf"):
            raise ConfigError(f"progress_every must be a number of seconds > 0, got {self.progress_every}")
        if not self.max_minutes >= 0 or self.max_minutes == float("inf"):
            raise ConfigError(f"max_minutes must be a finite number >= 0, got {self.max_minutes}")
        if not 0 < self.rollback_lr_factor < 1:
            raise ConfigError(
                "rollback_lr_factor must lie strictly between 0 and 1 (it lowers the lr), got "
                f"{self.rollback_lr_factor}"
            )
        if self.max_rollbacks < 1:
            raise ConfigError(f"max_rollbacks must be >= 1, got {self.max_rollbacks}")
        VisibleWatermark(text=self.watermark_text).check()
        try:
            self.data_options().check()
        except DataError as e:
            raise ConfigError(str(e)) from None
        if any(c < 0 for c in self.exclude_classes) or len(set(self.exclude_classes)) != len(self.exclude_classes):
            raise ConfigError(f"exclude_classes must be distinct class labels >= 0, got {list(self.exclude_classes)}")

    def data_options(self) -> DataOptions:
        """How ``dataset`` is prepared: the data fields of this config."""
        return DataOptions(
            image_size=self.image_size,
            channels=self.channels,
            crop=self.crop,
            labels=self.labels,
            test_fraction=self.test_fraction,
            background=self.background,
            strict=self.strict,
            pairs="none" if self.pair_layout == "auto" else self.pair_layout,
        )


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config as a plain dict (tuples become lists, ready for JSON/YAML)."""
    return {f.name: _plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build ``cls`` from a dict, checking every key and value type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__} must be a mapping, got {type(data).__name__}")
    known = field_types(cls)
    unknown = sorted(_key_text(k) for k in data if k not in known)
    if unknown:
        listed = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        raise ConfigError(f"unknown {cls.__name__} key(s) {listed}; known keys: {', '.join(known)}")
    return cls(**{k: coerce(k, known[k], v) for k, v in data.items()})


def _key_text(key: Any) -> str:
    """A config key for a message: a string as it is (cut at 40 characters), anything else as a short repr."""
    if isinstance(key, str):
        return key if len(key) <= 40 else key[:37] + "..."
    return short_repr(key, 40)


def field_types(cls: type) -> dict[str, Any]:
    """Field name -> resolved type annotation, in declaration order."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def coerce(key: str, tp: Any, value: Any) -> Any:
    """Check ``value`` against annotation ``tp``; parse it first when it is a string."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{key} must be one of {', '.join(map(str, choices))}; got {short_repr(value)}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return coerce(key, args[0], value)
    if origin is tuple:
        (item_tp, *_rest) = typing.get_args(tp)
        if isinstance(value, str):
            value = [v for v in value.strip("()[] ").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list of {item_tp.__name__}, got {short_repr(value)}")
        return tuple(coerce(key, item_tp, v) for v in value)
    if tp is bool:
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {short_repr(value)}")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be a number, got {short_repr(value)}")
        if isinstance(value, str):
            try:
                value = float(value) if tp is float else int(value)
            except ValueError:
                raise ConfigError(
                    f"{key} must be {'a number' if tp is float else 'an integer'}, got {short_repr(value)}"
                ) from None
        if tp is int and not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise ConfigError(f"{key} must be an integer, got {short_repr(value)}")
        if not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {short_repr(value)}")
        if not math.isfinite(value):
            raise ConfigError(f"{key} must be a finite number, got {short_repr(value)}")
        return tp(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {short_repr(value)}")
        return value
    raise ConfigError(f"{key} has an unsupported type {tp!r}")


def parse_sets(items: list[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; a malformed item is an error."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {short_repr(item)}")
        out[key.strip()] = value.strip()
    return out


def apply_overrides(configs: list[Any], overrides: dict[str, Any]) -> list[Any]:
    """Apply flat ``key -> value`` overrides to whichever config owns each key."""
    remaining = dict(overrides)
    result = []
    for cfg in configs:
        types_ = field_types(type(cfg))
        mine = {k: coerce(k, types_[k], v) for k, v in remaining.items() if k in types_}
        for k in mine:
            remaining.pop(k)
        result.append(dataclasses.replace(cfg, **mine))
    if remaining:
        known = sorted(k for cfg in configs for k in field_types(type(cfg)))
        raise ConfigError(f"unknown config key(s) {', '.join(sorted(remaining))}; known keys: {', '.join(known)}")
    return result


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a run config file (a YAML mapping), with errors that name the file.

    Only the shape is checked here: ``family`` a name, ``model`` and ``train`` mappings;
    their keys and values are checked by :func:`from_dict`. The file is read through
    :mod:`genlab.files` (a regular file of at most 1 MiB, no YAML aliases).
    """
    text = read_text(path, MAX_CONFIG_BYTES, "config file", ConfigError)
    data = parse_yaml(text, f"config file {path}", ConfigError)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of key: value")
    if data.get("family") is not None and not isinstance(data["family"], str):
        raise ConfigError(
            f"config file {path}: family must be a family name (see `genlab list`), got {short_repr(data['family'])}"
        )
    for section in ("model", "train"):
        if data.get(section) is not None and not isinstance(data[section], dict):
            raise ConfigError(
                f"config file {path}: {section} must be a mapping of key: value, got {short_repr(data[section])}"
            )
    return data


def parse_yaml(text: str, where: str, error: type[Exception] = ConfigError) -> Any:
    """The YAML document in ``text`` (aliases and deep nesting refused); a problem raises
    ``error`` naming ``where`` in one line."""
    try:
        return loads_yaml(text)
    except yaml.YAMLError as e:
        raise error(f"cannot read {where}: {(str(e).splitlines() or [type(e).__name__])[0]}") from None


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
