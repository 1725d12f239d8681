"""Parity with the reference tools on the same PNG folders and the same (random) Inception weights.

The standard weights cannot be fetched here, so a randomly initialised FID Inception is saved
twice (safetensors for genlab, a .pth state dict for pytorch-fid 0.3.0 and torch-fidelity
0.4.0, which load it through their own code paths). The default suite compares whole
pipelines on 64-d block-0 features (cheap; 66 images > 64 dims, so the covariances are
regular); the slow tests compare pool3 features, logits and the Inception Score.
"""

import json

import numpy as np
import pytest
from cli_helpers import run
from parity_helpers import needs_tool
from PIL import Image

from genlab.eval.extractors import get_extractor
from genlab.eval.inputs import images_of
from genlab.eval.metrics import inception_score, kernel_inception_distance
from genlab.eval.parity import (
    pytorch_fid_features,
    pytorch_fid_fid,
    random_fid_inception,
    save_both_formats,
    torch_fidelity_features,
    torch_fidelity_metrics,
)

N = 66  # > 64 feature dimensions


def write_folder(folder, n, seed, shift):
    """n RGB 32x32 PNGs: a random flat colour per image plus noise; ``shift`` moves the colours."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(n):
        base = rng.integers(0, 160, (1, 1, 3)) + shift
        Image.fromarray(np.clip(base + rng.integers(0, 96, (32, 32, 3)), 0, 255).astype(np.uint8)).save(
            folder / f"{i:03d}.png"
        )
    return folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    safetensors, pth = save_both_formats(random_fid_inception(0), root / "weights")
    return safetensors, pth, write_folder(root / "a", N, 0, 0), write_folder(root / "b", N, 1, 60)


def genlab_json(capsys, a, b, weights, *options):
    code, out, err = run(capsys, "eval", a, "--ref", b, "--extractor", "inception", "--extractor-weights", weights,
                         "--json", *options)  # fmt: skip
    assert code == 0, err
    return json.loads(out)


def test_fid_equals_pytorch_fid(setup, capsys):
    needs_tool("pytorch_fid")
    safetensors, pth, a, b = setup
    theirs = pytorch_fid_fid(pth, a, b, dims=64)
    ours = genlab_json(capsys, a, b, safetensors, "--dims", "64", "--resize", "pytorch-fid")
    assert ours["fid"] == pytest.approx(theirs, rel=1e-6) and theirs > 1.0  # measured: equal to 1e-15
    assert "fid_warning" not in ours


def test_fid_and_kid_equal_torch_fidelity(setup, capsys):
    needs_tool("torch_fidelity")
    safetensors, pth, a, b = setup
    theirs = torch_fidelity_metrics(
        pth, a, b, fid=True, kid=True, feature_layer_fid="64", feature_layer_kid="64", kid_subset_size=N, rng_seed=7
    )
    ours = genlab_json(capsys, a, b, safetensors, "--dims", "64", "--resize", "torch-fidelity", "--seed", "7")
    assert ours["fid"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-5)  # measured 3e-8
    assert ours["kid"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)  # theirs is float32
    assert ours["kid_std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-3, abs=1e-6)


def test_the_rules_differ_so_the_choice_matters(setup):
    safetensors, _, a, _ = setup
    images = images_of(a)[:4]
    feats = {r: get_extractor("inception", safetensors, resize=r, dims=64).features(images) for r in
             ("pytorch-fid", "torch-fidelity", "clean")}  # fmt: skip
    assert not np.allclose(feats["pytorch-fid"], feats["torch-fidelity"], rtol=1e-3)
    assert not np.allclose(feats["clean"], feats["torch-fidelity"], rtol=1e-3)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 50 full Inception passes: minutes on a loaded 2-core CPU
def test_pool3_features_logits_and_inception_score(setup, tmp_path):
    needs_tool("pytorch_fid")
    needs_tool("torch_fidelity")
    safetensors, pth, a, _ = setup
    few = tmp_path / "few"
    few.mkdir()
    for f in sorted(a.iterdir())[:4]:
        (few / f.name).write_bytes(f.read_bytes())
    images = images_of(few)  # (4, 3, 32, 32)
    pfid = get_extractor("inception", safetensors, resize="pytorch-fid")
    np.testing.assert_allclose(pfid.features(images), pytorch_fid_features(pth, few), rtol=1e-5, atol=1e-6)
    import torch

    tfid = get_extractor("inception", safetensors, resize="torch-fidelity")
    feats, probs = tfid.features_and_probs(images)
    theirs = torch_fidelity_features(pth, torch.from_numpy(images), ("2048", "logits_unbiased"))
    np.testing.assert_allclose(feats, theirs["2048"].double().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs, torch.softmax(theirs["logits_unbiased"].double(), 1).numpy(), atol=1e-7)
    metrics = torch_fidelity_metrics(pth, few, isc=True, isc_splits=2, rng_seed=3)
    assert inception_score(probs, splits=2, seed=3)[0] == pytest.approx(metrics["inception_score_mean"], rel=1e-6)
    kid = torch_fidelity_metrics(pth, few, few, kid=True, kid_subset_size=4, kid_subsets=10, rng_seed=3)
    ours = kernel_inception_distance(feats, feats, num_subsets=10, subset_size=4, seed=3)[0]
    assert ours == pytest.approx(kid["kernel_inception_distance_mean"], rel=1e-3, abs=1e-6)
