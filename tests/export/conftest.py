"""Tiny trained runs for the export tests, made once per session.

A run trained for one step sits next to its initialisation, where several families output
(nearly) constants: zero-initialised output layers (the U-Nets), BatchNorm statistics of one
batch. A parity test on such outputs could not fail, so every float weight of the checkpoint is
moved by N(0, 0.1^2) noise (running variances multiplied by a factor in (0.5, 1.5)) and the
checkpoint is written back; the tests assert that outputs then vary.
"""

import pytest
import torch

import genlab
from genlab.models import get_family
from genlab.runs import find_checkpoint, load_checkpoint, save_checkpoint

pytest.importorskip("onnxruntime")

# Sizes a little above the registry's tiny ones where those collapse to constant outputs.
OVERRIDES = {
    "dcgan": {"base_channels": 4},
    "cdcgan": {"base_channels": 4},
    "wgan": {"base_channels": 4},
    "wgan-gp": {"base_channels": 4},
    "ddpm": {"diffusion_steps": 100, "sample_steps": 50},  # the example runs DDIM-50
}


def perturb_(state, generator):
    """Move every float tensor of the families' nets (in place): weights by N(0, 0.1^2), variances by a factor."""
    for net in state["family"]["nets"].values():
        for key, t in net.items():
            if not t.is_floating_point():
                continue
            if key.endswith("running_var"):
                t.mul_(0.5 + torch.rand(t.shape, generator=generator))
            else:
                t.add_(0.1 * torch.randn(t.shape, generator=generator))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """``tiny_run(name, **model_overrides)`` -> a run directory trained 1 step, weights perturbed (cached)."""
    made = {}

    def make(name, **overrides):
        key = (name, tuple(sorted(overrides.items())))
        if key not in made:
            spec = get_family(name)
            out = tmp_path_factory.mktemp(name.replace("-", "_")) / "run"
            model = {**spec.tiny, **OVERRIDES.get(name, {}), **overrides}
            torch.manual_seed(0)
            genlab.train(name, out=out, steps=1, batch_size=4, dataset=spec.dataset, grid_size=4, **model)
            path = find_checkpoint(out)
            state, meta = load_checkpoint(path)
            perturb_(state, torch.Generator().manual_seed(0))
            save_checkpoint(path.with_suffix(""), state, {k: v for k, v in meta.items() if k not in ("sha256",)})
            made[key] = out
        return made[key]

    return make
