"""Read form and query values into numbers: every bad value is one ConfigError naming the field.

HTML forms send every field as text, an empty field as ``""``; these helpers treat an
empty or missing field as "not given" and refuse anything else that is not a number in
range, so no malformed request reaches a model or the database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from genlab.errors import ConfigError

MAX_FIELD = 200  # characters: no form value the app reads is longer


def text(form: Mapping[str, str], name: str) -> str | None:
    """The stripped value of ``name``, or None when missing or empty."""
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be text, got an upload")
    if len(value) > MAX_FIELD:
        raise ConfigError(f"{name} is too long ({len(value)} characters; at most {MAX_FIELD})")
    value = value.strip()
    return value or None


def integer(form: Mapping[str, str], name: str, lo: int, hi: int, default: int | None = None) -> int | None:
    """``name`` as an int in [lo, hi]; ``default`` when not given."""
    value = text(form, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number in {lo}..{hi}, got {value!r}") from None
    if not lo <= number <= hi:
        raise ConfigError(f"{name} must be in {lo}..{hi}, got {number}")
    return number


def number(form: Mapping[str, str], name: str, lo: float, hi: float, default: float | None = None) -> float | None:
    """``name`` as a finite float in [lo, hi]; ``default`` when not given."""
    value = text(form, name)
    if value is None:
        return default
    try:
        x = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number in [{lo:g}, {hi:g}], got {value!r}") from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise ConfigError(f"{name} must be a number in [{lo:g}, {hi:g}], got {value!r}")
    return x


def choice(form: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
    """``name`` as one of ``allowed``; ``default`` when not given."""
    value = text(form, name)
    if value is None:
        return default
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value
