"""genlab: train, sample, evaluate and publish deep generative models on a laptop CPU.

The Python API, in a few lines::

    import genlab

    run = genlab.train("vae", steps=50, out="runs/vae-api")   # any config key: latent_dim=8, lr=1e-3, ...
    images = run.sample(16, seed=1)                          # uint8 (16, 1, 28, 28)
    scores = run.evaluate(n=500)                             # fid, kid, precision, recall, ...
    run = genlab.load("runs/vae-api")                        # a run trained earlier, or by the CLI

- :func:`train` — train a family by name (with config overrides) or from a :class:`RunConfig`.
- :func:`load` — a :class:`Run` from a run directory: ``config``, ``metrics()``, ``family``,
  ``sample(n)``, ``evaluate(n)``.
- :func:`run_config` — a checked config (preset, YAML file, overrides) to inspect or pass on.
- :func:`families` — the registered family names.
- :func:`evaluate` — score any uint8 images against a reference; :func:`save_grid` — a marked PNG grid.

Public modules beyond these names: :mod:`genlab.marks` (visible and invisible watermarks, signing and
provenance of PNG files) and :mod:`genlab.errors` (``GenlabError`` and its kinds).

The command line (``genlab --help``) does the same things; docs/api.md is the reference.
"""

from genlab.api import Run, evaluate, families, load, run_config, save_grid, train
from genlab.runs import RunConfig
from genlab.version import __version__

__all__ = [
    "Run",
    "RunConfig",
    "__version__",
    "evaluate",
    "families",
    "load",
    "run_config",
    "save_grid",
    "train",
]
