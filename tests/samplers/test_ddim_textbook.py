"""genlab's DDIM sampling of a ddpm equals DDIM written out per step (benchmarks/ddim_speed.py's reference loop)."""

import importlib.util
from pathlib import Path

import torch

from genlab.bench.training import build_family
from genlab.data import DataInfo

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ddim_speed.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("ddim_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_family_sample_matches_the_textbook_ddim_loop():
    bench = load_benchmark()
    family = build_family(
        "ddpm",
        None,
        DataInfo(1, 8, 8, 10),
        seed=3,
        base_channels=4,
        channel_mults=(1, 2),
        attention=False,
        diffusion_steps=100,
        sampler="ddim",
        sample_steps=10,
        guidance=1.0,
    )
    torch.nn.init.normal_(
        family.nets["ema"].net.out[-1].weight, std=0.05
    )  # a non-zero output, so the loop is exercised
    labels = torch.arange(6) % 10
    ours = family.sample(6, labels=labels, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    theirs = bench.textbook_ddim(family.nets["ema"].net.eval(), family.alpha_bar, noise, labels, steps=10)
    assert ours.shape == theirs.shape == (6, 1, 8, 8)
    assert (ours - noise.clamp(-1, 1)).abs().max() > 0.01  # sampling moved the noise
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
