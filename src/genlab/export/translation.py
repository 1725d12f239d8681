"""Export adapters of the translation families: the pix2pix U-Net and CycleGAN's two ResNet generators.

Pix2Pix keeps dropout on at test time as its only noise (the paper's choice, ``sample_dropout``);
an exported generator is deterministic, dropout off, which is what ``family.translate(x, None)``
computes. The manifest says so.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch
from torch import nn

from genlab.data import DataInfo
from genlab.data.translation import split_pair
from genlab.export.generators import image_spec
from genlab.export.graphs import Exportable, Graph
from genlab.models.cyclegan import CycleGAN
from genlab.models.pix2pix import Pix2Pix
from genlab.models.translate_parts import held_out_images


class _Deterministic(nn.Module):
    """G(x) without dropout masks (pix2pix's generator takes a torch.Generator for them)."""

    def __init__(self, g: nn.Module) -> None:
        super().__init__()
        self.g = g

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.g(x, None)


class TranslationExportable(Exportable):
    """One graph per direction, each (B, C, H, W) in [-1, 1] -> same."""

    def __init__(
        self,
        *args: Any,
        data: Any = None,
        sets: dict[str, tuple[str, str]] | None = None,
        info: DataInfo | None = None,
        **kw: Any,
    ):
        super().__init__(*args, **kw)
        self.data = data  # () -> (uint8 A|B pairs, labels) of the run's train split
        self.sets = sets or {}  # graph -> (translation set, side "a"/"b") its held-out inputs come from
        self.info = info  # the run's data info: own image pairs (info.pairs_source) win over the set name

    def example_inputs(self, name, n, generator):
        return {"images": torch.rand((n, *self.image_shape), generator=generator).numpy() * 2 - 1}

    def calibration(self, name, n, generator):
        """Single images of the run's training data, of the side this graph translates."""
        pairs, _ = self.data()
        a, b = split_pair(pairs)
        source = a if self.sets[name][1] == "a" else b
        rows = torch.randint(0, len(source), (n,), generator=generator).numpy()
        return [{"images": source[i : i + 1].astype(np.float32) / 127.5 - 1.0} for i in rows]

    def held_out(self, name: str, n: int, generator: torch.Generator) -> np.ndarray:
        """``n`` held-out inputs of graph ``name``, drawn as ``family.sample`` draws them."""
        data_set, side = self.sets[name]
        return held_out_images(data_set, side, n, generator, self.info).numpy()  # type: ignore[arg-type]

    def generate(self, runner, n, generator):
        name = next(iter(self.graphs)) if len(self.graphs) == 1 else self.conventions["sample_graph"]
        return runner(name, {"images": self.held_out(name, n, generator)})[0]


def _source(info: DataInfo, set_name: str) -> str:
    """The data the run was trained on: its own image pairs (their layout and path), else the built-in set."""
    if not info.pairs_source:
        return set_name
    source = json.loads(info.pairs_source)
    return f"own image pairs ({source['layout']}) from {source['path']}"


def pix2pix_exportable(family: Pix2Pix, data: Any) -> Exportable:
    shape = (family.info.channels, family.info.height, family.info.width // 2)
    graph = Graph(
        _Deterministic(family.nets["generator"]).eval(),
        [image_spec("images", shape, "input (domain A)")],
        [image_spec("translated", shape, "output (domain B)")],
    )
    ex = TranslationExportable(
        family.registry_name,
        family.kind,
        shape,
        {"generator": graph},
        data=data,
        sets={"generator": (family.cfg.pairs, "a")},
        info=family.info,
    )
    ex.conventions = {
        "pairs": _source(family.info, family.cfg.pairs),
        "dropout": "off: the exported generator is deterministic (the run samples with test-time dropout noise: "
        f"sample_dropout={family.cfg.sample_dropout})",
        "images": "pixels / 127.5 - 1, channels first",
        "arch": family.cfg.arch,
    }
    return ex


def cyclegan_exportable(family: CycleGAN, data: Any) -> Exportable:
    shape = (family.info.channels, family.info.height, family.info.width // 2)
    graphs = {
        f"g_{d}": Graph(
            family.nets[f"g_{d}"].eval(),
            [image_spec("images", shape, f"input (domain {d[0].upper()})")],
            [image_spec("translated", shape, f"output (domain {d[1].upper()})")],
        )
        for d in ("ab", "ba")
    }
    ex = TranslationExportable(
        family.registry_name,
        family.kind,
        shape,
        graphs,
        data=data,
        sets={"g_ab": (family.cfg.domains, "a"), "g_ba": (family.cfg.domains, "b")},
        info=family.info,
    )
    ex.conventions = {
        "domains": _source(family.info, family.cfg.domains),
        "sample_graph": "g_ab" if family.cfg.direction == "a2b" else "g_ba",
        "images": "pixels / 127.5 - 1, channels first",
    }
    return ex
