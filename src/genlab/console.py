"""The console every command writes its progress and warnings to: stderr, so stdout stays data."""

from __future__ import annotations

from rich.console import Console

stderr_console = Console(stderr=True)
