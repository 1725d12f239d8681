"""Every family at every image shape it declares (genlab.models.shapes), through the same checks.

An image family builds at tiny width at each of its sizes (28, 32, 64, and 128 where listed)
with 1 and 3 channels, takes one training step with finite losses, samples images of the
data's shape in [-1, 1] and hands its state to a fresh copy; a task-specific family refuses
every other shape in one ConfigError line that names the shapes it takes. No per-family
cases: the registry's declarations drive it.
"""

import re

import pytest
import torch

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.registry import family_names, get_family, nearest_size, supported_shapes
from genlab.models.shapes import CHANNELS, SIZES_128, ShapeSupport

GENERAL = [(c, s, s) for s in SIZES_128 for c in CHANNELS]  # every shape some image family takes
SPECS = [get_family(name) for name in family_names()]
SUPPORTED = [
    pytest.param(spec.name, shape, id=f"{spec.name}-{shape[0]}x{shape[1]}x{shape[2]}")
    for spec in SPECS
    if not spec.shapes.task_specific
    for shape in spec.shapes.all()
]
REFUSED = [
    pytest.param(spec.name, shape, id=f"{spec.name}-{shape[0]}x{shape[1]}x{shape[2]}")
    for spec in SPECS
    if spec.shapes.task_specific
    for shape in GENERAL
    if not spec.shapes.accepts(*shape)
]
SIZE_PRESETS = [
    pytest.param(spec.name, preset, int(m.group(1)), id=f"{spec.name}-{preset}")
    for spec in SPECS
    for preset in spec.presets
    if (m := re.fullmatch(r"small-(\d+)", preset))
]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks: one thread is faster than two contending ones, and the same on every machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(name, shape, preset=None):
    spec = get_family(name)
    c, h, w = shape
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return spec.family_cls(spec.config_cls(**(spec.tiny if preset is None else preset)), DataInfo(c, h, w, 10))


@pytest.mark.parametrize(("name", "shape"), SUPPORTED)
def test_each_declared_shape_builds_trains_one_step_and_samples_it(name, shape):
    torch.manual_seed(0)  # dropout and the like draw from the global generator
    family = build(name, shape)
    n = 4 * family.batches_per_step  # 4 images per critic batch: BatchNorm needs more than one
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, *shape, generator=g)
    x = x * 2 - 1 if family.data_scale == "-1,1" else x
    metrics = family.train_step(x, torch.randint(0, 10, (n,), generator=g), g)
    assert metrics and all(torch.isfinite(torch.tensor(v)) for v in metrics.values()), metrics
    labels = torch.arange(3) if family.conditional else None
    images = family.sample(3, labels=labels, generator=torch.Generator().manual_seed(1))
    assert images.shape == (3, *shape) and images.dtype == torch.float32
    assert torch.isfinite(images).all() and images.min() >= -1 and images.max() <= 1
    # The trained state fits a family built afresh for the same shape, which then samples the same images.
    again = build(name, shape)
    again.load_state_dict(family.state_dict())
    assert torch.equal(again.sample(3, labels=labels, generator=torch.Generator().manual_seed(1)), images)


@pytest.mark.parametrize(("name", "shape"), REFUSED)
def test_a_task_specific_family_refuses_other_shapes_in_one_line(name, shape):
    with pytest.raises(ConfigError) as caught:
        build(name, shape)
    message = str(caught.value)
    assert "\n" not in message and "task-specific" in message, message
    assert get_family(name).shapes.describe() in message and "x".join(map(str, shape)) in message, message


@pytest.mark.parametrize(("name", "preset", "size"), SIZE_PRESETS)
def test_a_size_preset_is_for_a_declared_size_and_builds_there(name, preset, size):
    spec = get_family(name)
    assert size in spec.shapes.sizes and preset in spec.description
    for c in spec.shapes.channels:
        family = build(name, (c, size, size), preset=spec.presets[preset])
        assert family.image_shape == (c, size, size)


def test_every_family_declares_its_shapes_and_image_families_take_the_common_sizes():
    for spec in SPECS:
        assert spec.family_cls.shapes is spec.shapes and spec.shapes.all()
        if not spec.shapes.task_specific:
            assert spec.shapes.channels == (1, 3), spec.name
            # every image family takes the common sizes, or states why not (and then takes the others)
            missing = {28, 32, 64} - set(spec.shapes.sizes)
            assert not missing or (spec.shapes.why_not_common and len(missing) == 1), spec.name
    assert sum(128 in spec.shapes.sizes for spec in SPECS) >= 4  # dcgan, conv-vae, ddpm, stylegan-lite, ...


@pytest.mark.parametrize(
    ("name", "size", "expected"),
    [
        ("dcgan", 28, 28),
        ("dcgan", 30, 32),  # 32/30 < 30/28
        ("dcgan", 48, 64),  # 64/48 < 48/32
        ("dcgan", 100, 128),
        ("dcgan", 1000, 128),
        ("dcgan", 8, 28),
        ("gan", 100, 64),  # gan lists no 128
        ("dcgan64", 28, 64),
    ],
)
def test_nearest_size_picks_the_closest_supported_side_by_ratio(name, size, expected):
    assert nearest_size(name, size) == expected


def test_a_tie_goes_to_the_larger_side_and_bad_sides_are_config_errors():
    assert ShapeSupport((16, 64)).nearest_size(32) == 64  # 32/16 = 64/32
    with pytest.raises(ConfigError, match="no square size"):
        nearest_size("pix2pix", 28)
    with pytest.raises(ConfigError, match=">= 1"):
        nearest_size("dcgan", 0)


def test_supported_shapes_lists_channels_and_sides():
    assert supported_shapes("dcgan") == tuple((c, s, s) for s in (28, 32, 64, 128) for c in (1, 3))
    assert supported_shapes("pix2pix") == ((1, 28, 56), (3, 28, 56), (3, 256, 512))  # + edges256 (the filter)
    assert supported_shapes("numpy-gan") == ((1, 28, 28),)
