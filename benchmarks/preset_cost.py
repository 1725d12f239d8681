"""The training cost per image of each size preset, next to the default and ``small``.

    OMP_NUM_THREADS=1 python benchmarks/preset_cost.py [--channels 3]

For every family with a size preset (``small-64``, ``small-128``), at each size it lists:
FLOPs of one ``train_step`` (forward and backward, gradient penalties included, counted
with ``torch.utils.flop_counter``'s per-operator formulas, batch 8, per image) and parameters, for the default config,
``small`` and the size's own preset. FLOPs, not seconds: the count does not depend on the
load of a shared machine. The presets are chosen so that one image at their size costs about
what ``small`` costs at 28 (within a few times), where the default would cost 10-100x more.
"""

from __future__ import annotations

import argparse
import re

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from genlab.data import DataInfo
from genlab.models.registry import family_names, get_family

SIZE_PRESET = re.compile(r"small-(\d+)$")


class CountFlops(TorchDispatchMode):
    """Sums torch's per-operator FLOP formulas over every op run inside it.

    ``FlopCounterMode`` does the same and also attributes FLOPs to modules, with backward hooks
    that ``torch.autograd.grad`` (the R1 and WGAN-GP penalties) does not support; this skips that.
    """

    total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **kwargs, out_val=out)
        return out


def train_cost(name: str, preset: dict, channels: int, size: int, batch: int = 8) -> tuple[float, float]:
    """(MFLOP per image of one train_step, M parameters) of family ``name`` with ``preset`` at size x size."""
    spec = get_family(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        family = spec.family_cls(spec.config_cls(**preset), DataInfo(channels, size, size, 10))
    n = batch * family.batches_per_step
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, channels, size, size, generator=g)
    x = x * 2 - 1 if family.data_scale == "-1,1" else x
    with CountFlops() as counter:
        family.train_step(x, torch.randint(0, 10, (n,), generator=g), g)
    return counter.total / n / 1e6, family.num_parameters() / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"| family | size | preset | MFLOP / image (train step, C={args.channels}) | M params |")
    print("|---|---|---|---|---|")
    for name in family_names():
        spec = get_family(name)
        sized = {int(m.group(1)): p for p, m in ((p, SIZE_PRESET.match(p)) for p in spec.presets) if m}
        if not sized:
            continue
        for size in spec.shapes.sizes:
            rows = [("default", {}), ("small", spec.presets.get("small"))]
            rows += [(f"small-{size}", spec.presets[sized[size]])] if size in sized else []
            for label, preset in rows:
                if preset is None:
                    continue
                flops, params = train_cost(name, preset, args.channels, size)
                print(f"| {name} | {size} | {label} | {flops:,.0f} | {params:.2f} |", flush=True)


if __name__ == "__main__":
    main()
