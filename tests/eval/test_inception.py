"""FID Inception-v3 without torchvision: architecture against the reference sources, I/O, errors.

References: pytorch-fid src/pytorch_fid/inception.py (``fid_inception_v3``) and torchvision
torchvision/models/inception.py (``Inception3``). No real weights are available offline, so
weights files are written from randomly initialised models.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from genlab.errors import ConfigError, DataError
from genlab.eval.inception import FID_WEIGHTS_FILE, FIDInceptionV3, load_fid_inception
from genlab.eval.inception_features import InceptionBlockFeatures, InceptionExtractor
from genlab.eval.parity import random_fid_inception

# 94 BasicConv2d (stem 5, Mixed_5b-5d 3x7, Mixed_6a 4, Mixed_6b-6e 4x10, Mixed_7a 6,
# Mixed_7b/7c 2x9), each with conv.weight + bn.{weight, bias, running_mean, running_var,
# num_batches_tracked}, plus fc.{weight, bias}.
NUM_STATE_KEYS = 94 * 6 + 2  # 566
NUM_PARAMETER_TENSORS = 94 * 3 + 2  # 284
# torchvision's inception_v3 (aux head, 1000 classes) has 27_161_264 parameters. Without the
# aux head (conv0 98_560 + conv1 2_459_136 + fc 769_000 = 3_326_696) and with 1008 classes
# (+8 * 2048 + 8 = 16_392): 27_161_264 - 3_326_696 + 16_392.
NUM_PARAMETERS = 23_850_960

REFERENCE_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_1a_3x3.bn.running_mean": (32,),
    "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
    "Mixed_5b.branch1x1.conv.weight": (64, 192, 1, 1),
    "Mixed_5b.branch5x5_2.conv.weight": (64, 48, 5, 5),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_5d.branch_pool.conv.weight": (64, 288, 1, 1),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7b.branch3x3dbl_1.conv.weight": (448, 1280, 1, 1),
    "Mixed_7b.branch3x3_2b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
    "Mixed_7c.branch_pool.bn.running_var": (192,),
    "Mixed_7c.branch_pool.bn.num_batches_tracked": (),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}
TOP_LEVEL = [
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
    "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
    "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "fc",
]  # fmt: skip


random_model = random_fid_inception


def contiguous_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.contiguous() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> tuple[FIDInceptionV3, dict]:
    """A random model as .safetensors (what genlab loads) and as a .pth (refused: convert it once)."""
    root = tmp_path_factory.mktemp("inception")
    model = random_model(seed=0)
    paths = {"safetensors": root / "w.safetensors", "pth": root / "w.pth"}
    save_file(contiguous_state(model), str(paths["safetensors"]))
    torch.save(model.state_dict(), paths["pth"])
    return model, paths


def grey_images(n: int, seed: int, size: int = 28) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


def test_state_dict_matches_reference_architecture():
    model = FIDInceptionV3()
    state = model.state_dict()
    assert len(state) == NUM_STATE_KEYS
    assert len(list(model.parameters())) == NUM_PARAMETER_TENSORS
    assert sum(p.numel() for p in model.parameters()) == NUM_PARAMETERS
    assert [name for name, _ in model.named_children()] == TOP_LEVEL
    for key, shape in REFERENCE_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 94 and all(bn.eps == 0.001 for bn in bns)
    assert all(m.bias is None for m in model.modules() if isinstance(m, torch.nn.Conv2d))


def test_fid_pooling_patches(weights):
    """Mixed_5b averages over real pixels only; Mixed_7c max-pools (pytorch-fid's patches)."""
    model, _ = weights
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        x = torch.randn(1, 192, 5, 5, generator=g)
        pool_branch = model.Mixed_5b(x)[:, -32:]  # the last 32 channels come from branch_pool
        real = model.Mixed_5b.branch_pool(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
        padded = model.Mixed_5b.branch_pool(F.avg_pool2d(x, 3, 1, 1, count_include_pad=True))
        torch.testing.assert_close(pool_branch, real)
        assert not torch.allclose(pool_branch, padded)

        x = torch.randn(1, 2048, 3, 3, generator=g)
        pool_branch = model.Mixed_7c(x)[:, -192:]
        torch.testing.assert_close(pool_branch, model.Mixed_7c.branch_pool(F.max_pool2d(x, 3, 1, 1)))


def test_extractor_on_grey_28x28(weights):
    _, paths = weights
    extractor = InceptionExtractor(paths["safetensors"], batch_size=2)
    assert (extractor.name, extractor.feature_dim, extractor.num_classes) == ("inception", 2048, 1008)
    images = grey_images(2, seed=0)
    feats, probs = extractor.features_and_probs(images)
    assert feats.shape == (2, 2048) and feats.dtype == np.float64 and np.isfinite(feats).all()
    assert probs.shape == (2, 1008) and probs.dtype == np.float64 and (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    assert not np.allclose(feats[0], feats[1])  # different images, different features
    # Grey is repeated to RGB, and the batch it sits in does not change an image's features.
    rgb = np.repeat(images[:1, None], 3, axis=1)  # (1, 28, 28) -> (1, 3, 28, 28)
    np.testing.assert_allclose(extractor.features(rgb), feats[:1], rtol=1e-4, atol=1e-5)


def test_safetensors_round_trip_and_pickles_refused(weights):
    model, paths = weights
    loaded = load_fid_inception(paths["safetensors"])
    assert not loaded.training
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
    with pytest.raises(DataError, match="pickle-based") as err:
        load_fid_inception(paths["pth"])
    assert "fetch-weights --from" in str(err.value)


def test_feature_blocks_and_bias_free_logits(weights):
    """dims 64/192/768 are block outputs averaged over space; the IS logits leave fc.bias out."""
    model, _ = weights
    x = torch.from_numpy(grey_images(1, seed=2)).float().div(127.5).sub(1).expand(1, 3, 28, 28)
    with torch.no_grad():
        pool3, logits = model(x)
        torch.testing.assert_close(logits, pool3 @ model.fc.weight.T)
        assert not torch.allclose(logits, model.fc(pool3))
        up = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        stem = F.max_pool2d(model.Conv2d_2b_3x3(model.Conv2d_2a_3x3(model.Conv2d_1a_3x3(up))), 3, 2)
        f64, none = model(x, dims=64)
        torch.testing.assert_close(f64, stem.mean(dim=(2, 3)))
        assert none is None and model(x, dims=192)[0].shape == (1, 192) and model(x, dims=768)[0].shape == (1, 768)
    with pytest.raises(ConfigError, match="dims"):
        model(x, dims=100)


def test_missing_file_says_how_to_get_weights(tmp_path):
    with pytest.raises(DataError, match="not found") as err:
        load_fid_inception(tmp_path / "nope.safetensors")
    assert FID_WEIGHTS_FILE in str(err.value) and "genlab eval fetch-weights" in str(err.value)


@pytest.mark.parametrize("name", ["w.safetensors"])
def test_corrupt_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"this is not a weights file" * 10)
    with pytest.raises(DataError, match="unreadable or corrupt") as err:
        load_fid_inception(path)
    assert FID_WEIGHTS_FILE in str(err.value)


def test_wrong_key_names_missing_and_unexpected(tmp_path):
    state = contiguous_state(FIDInceptionV3())
    state["fc.weights"] = state.pop("fc.weight")
    path = tmp_path / "renamed.safetensors"
    save_file(state, str(path))
    with pytest.raises(DataError, match="do not match") as err:
        load_fid_inception(path)
    message = str(err.value)
    assert "1 missing: fc.weight" in message and "1 unexpected: fc.weights" in message
    assert FID_WEIGHTS_FILE in message


def test_torchvision_imagenet_head_is_recognised(tmp_path):
    state = contiguous_state(FIDInceptionV3())
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 2048), torch.zeros(1000)
    path = tmp_path / "imagenet.safetensors"
    save_file(state, str(path))
    with pytest.raises(DataError, match=r"fc.weight \(1000, 2048\) \(expected \(1008, 2048\)\)") as err:
        load_fid_inception(path)
    assert "torchvision's ImageNet weights" in str(err.value)


def test_non_finite_weights_and_wrong_suffix(tmp_path):
    state = contiguous_state(FIDInceptionV3())
    state["fc.bias"][3] = float("nan")
    path = tmp_path / "nan.safetensors"
    save_file(state, str(path))
    with pytest.raises(DataError, match="NaN or infinite"):
        load_fid_inception(path)
    other = tmp_path / "w.bin"
    other.write_bytes(b"x")
    with pytest.raises(DataError, match=r"\.safetensors file"):
        load_fid_inception(other)


def test_extractor_input_errors(weights):
    _, paths = weights
    with pytest.raises(ConfigError, match="batch_size"):
        InceptionExtractor(paths["safetensors"], batch_size=0)
    extractor = InceptionExtractor(paths["safetensors"])
    with pytest.raises(ConfigError, match="dims"):
        InceptionBlockFeatures(paths["safetensors"], dims=100)
    with pytest.raises(DataError, match="1 or 3 channels"):
        extractor.features(np.zeros((2, 28, 28, 3), dtype=np.uint8))  # channels-last
    with pytest.raises(DataError, match="uint8"):
        extractor.features(np.zeros((2, 28, 28), dtype=np.float32))
