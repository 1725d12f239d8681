"""Minibatch discrimination / stddev and DiffAugment, on inputs with known answers."""

import pytest
import torch

from genlab.nn.diffaug import diff_augment
from genlab.nn.minibatch import MinibatchDiscrimination, MinibatchStdDev


def test_minibatch_discrimination_counts_identical_neighbours():
    layer = MinibatchDiscrimination(5, kernels=3, kernel_dim=4)
    same = torch.ones(6, 5)  # six identical samples: each has 5 neighbours at L1 distance 0
    out = layer(same)
    assert out.shape == (6, 8)
    assert torch.allclose(out[:, 5:], torch.full((6, 3), 5.0))
    far = torch.arange(6.0).view(6, 1).repeat(1, 5) * 1e3  # far apart: closeness ~ 0
    assert layer(far)[:, 5:].abs().max() < 1e-6


def test_minibatch_stddev_appends_the_group_std():
    h = torch.tensor([[0.0, 0.0], [2.0, 4.0], [0.0, 0.0], [2.0, 4.0]])  # std per feature 1 and 2
    out = MinibatchStdDev(group_size=4)(h)
    assert out.shape == (4, 3)
    assert torch.allclose(out[:, 2], torch.full((4,), 1.5), atol=1e-6)
    # groups of 2: the same two-sample pattern, so the same value
    assert torch.allclose(MinibatchStdDev(group_size=2)(h)[:, 2], torch.full((4,), 1.5), atol=1e-6)
    # collapsed batch: std 0
    assert MinibatchStdDev()(torch.ones(4, 3))[:, 3].max() < 1e-3


@pytest.mark.parametrize("policy", ["color", "translation", "cutout"])
def test_diffaug_keeps_shapes_is_seeded_and_differentiable(policy):
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    a = diff_augment(x, (policy,), torch.Generator().manual_seed(0))
    b = diff_augment(x, (policy,), torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_moves_content_by_whole_pixels_and_pads_with_zeros():
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 4, 4] = 1.0
    out = diff_augment(x, ("translation",), torch.Generator().manual_seed(1))
    # ratio 1/8 of 8 pixels: shifts in {-1, 0, 1} per axis, the single pixel survives
    assert torch.equal(out.sum(dim=(1, 2, 3)), torch.ones(64))
    ys, xs = torch.nonzero(out[:, 0], as_tuple=True)[1:]
    assert set(ys.tolist()) <= {3, 4, 5} and set(xs.tolist()) <= {3, 4, 5}
    assert len(set(zip(ys.tolist(), xs.tolist()))) > 3


def test_cutout_zeroes_a_square_of_half_the_side():
    x = torch.ones(32, 1, 8, 8)
    out = diff_augment(x, ("cutout",), torch.Generator().manual_seed(2))
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert zeros.max() == 16  # a 4x4 square fully inside
    assert zeros.min() >= 4  # at least a corner of it is always inside
