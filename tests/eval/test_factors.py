"""Disentanglement of a model's codes against shapes64's recorded factors."""

import numpy as np
import pytest
import torch

from genlab.data import DataInfo, load_dataset
from genlab.errors import ConfigError, DataError
from genlab.eval.factors import dataset_factors, encode_dataset
from genlab.models.registry import get_family

SHAPES = DataInfo(3, 64, 64, 6)


def tiny(name):
    spec = get_family(name)
    torch.manual_seed(0)
    return spec.family_cls(spec.config_cls(**spec.tiny), SHAPES)


def test_factors_line_up_with_the_images():
    factors, names = dataset_factors("shapes64")
    _, labels, _ = load_dataset("shapes64", "test")
    assert factors.shape == (labels.shape[0], len(names)) and np.array_equal(factors[:, 0], labels)


def test_only_data_sets_with_factors_qualify():
    with pytest.raises(DataError, match="no ground-truth factors"):
        dataset_factors("mnist")


def test_codes_are_the_posterior_means_batch_independent():
    family = tiny("conv-vae")
    codes = encode_dataset(family, "shapes64", n=30, batch_size=7)
    images, _, _ = load_dataset("shapes64", "test")
    family.train(False)
    with torch.no_grad():
        mu, _ = family.encode(torch.from_numpy(images[:30].astype(np.float32) / 255.0))
    assert codes.shape == (30, family.cfg.latent_dim)
    np.testing.assert_allclose(codes, mu.double().numpy(), atol=1e-5)


def test_a_model_without_an_encoder_is_refused():
    with pytest.raises(ConfigError, match="no encoder"):
        encode_dataset(tiny("gan"), "shapes64", n=4)
