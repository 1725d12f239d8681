"""Loaded families and rendered images, kept between requests (small LRU caches).

Model work runs under one lock: the latent codecs switch their networks between train
and eval mode, and two CPU-bound samplers at once would only share the same cores.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from genlab.errors import CheckpointError
from genlab.files import is_inside
from genlab.runs.loading import load_family
from genlab.runs.rundir import find_checkpoint


class ModelCache:
    """Loaded families (LRU, keyed by run, checkpoint file and overrides) and rendered PNGs.

    Hold :attr:`lock` around any use of a family: sampling is serialised.
    """

    def __init__(self, families: int = 6, renders: int = 64) -> None:
        self.lock = threading.RLock()
        self._families: OrderedDict[tuple, tuple] = OrderedDict()
        self._renders: OrderedDict[tuple, Any] = OrderedDict()
        self._sizes = (families, renders)

    def family(self, run_dir: Path, checkpoint: str, overrides: Mapping[str, Any] | None = None) -> tuple:
        """(family, run config, checkpoint meta) as :func:`genlab.runs.loading.load_family` returns them."""
        path = find_checkpoint(run_dir, checkpoint)
        for part in (path, path.with_suffix(".safetensors")):  # never a checkpoint linked in from elsewhere
            if not is_inside(part, run_dir):
                raise CheckpointError(f"checkpoint {part.name} of {run_dir.name!r} lies outside the run's folder")
        key = (str(run_dir), str(path), path.stat().st_mtime_ns, tuple(sorted((overrides or {}).items())))
        with self.lock:
            if key not in self._families:
                self._families[key] = load_family(run_dir, checkpoint, dict(overrides or {}))
                while len(self._families) > self._sizes[0]:
                    self._families.popitem(last=False)
            self._families.move_to_end(key)
            return self._families[key]

    def render(self, key: tuple, make: Callable[[], Any]) -> Any:
        """``make()``, remembered under ``key`` (the request plus the checkpoint it used)."""
        with self.lock:
            if key not in self._renders:
                self._renders[key] = make()
                while len(self._renders) > self._sizes[1]:
                    self._renders.popitem(last=False)
            self._renders.move_to_end(key)
            return self._renders[key]
