"""Data for genlab: MNIST, toy distributions, batching and image files.

Images travel as uint8 until a batch is drawn; :class:`Batcher` scales each batch to
float32 on the fly.
"""

from genlab.data.batcher import Batcher, iterate_batches
from genlab.data.cache import Prepared, cache_root
from genlab.data.datasets import DataInfo, is_named, load_dataset, source_record
from genlab.data.idx import read_idx, read_idx_bytes, write_idx
from genlab.data.images import load_image, make_grid, save_grid, save_png, to_uint8
from genlab.data.mnist import load_mnist
from genlab.data.options import SIZES, DataOptions
from genlab.data.prepare import prepare
from genlab.data.samples import load_samples, save_samples
from genlab.data.shapes64 import load_shapes64, render_shapes64, shapes64_factors
from genlab.data.toy import (
    bimodal_1d,
    bimodal_1d_pdf,
    grid25,
    grid25_centres,
    ring8,
    ring8_centres,
)

__all__ = [
    "SIZES",
    "Batcher",
    "DataInfo",
    "DataOptions",
    "Prepared",
    "bimodal_1d",
    "bimodal_1d_pdf",
    "grid25",
    "grid25_centres",
    "cache_root",
    "is_named",
    "iterate_batches",
    "load_dataset",
    "load_image",
    "load_mnist",
    "load_samples",
    "load_shapes64",
    "make_grid",
    "prepare",
    "read_idx",
    "read_idx_bytes",
    "render_shapes64",
    "ring8",
    "ring8_centres",
    "save_grid",
    "save_png",
    "save_samples",
    "shapes64_factors",
    "source_record",
    "to_uint8",
    "write_idx",
]
