"""Linear and spherical interpolation against closed forms."""

import math

import torch

from genlab.math.interpolate import lerp, slerp


def test_lerp_hits_both_ends_and_the_midpoint():
    a, b = torch.tensor([0.0, 2.0]), torch.tensor([4.0, 0.0])
    path = lerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.equal(path, torch.tensor([[0.0, 2.0], [2.0, 1.0], [4.0, 0.0]]))


def test_slerp_moves_along_the_great_circle_at_constant_speed():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    t = torch.linspace(0, 1, 5)
    path = slerp(a, b, t)
    angles = torch.atan2(path[:, 1], path[:, 0])
    assert torch.allclose(path.norm(dim=1), torch.ones(5), atol=1e-6)  # lerp would dip to 0.707
    assert torch.allclose(angles, t * math.pi / 2, atol=1e-6)


def test_slerp_keeps_image_shaped_latents_and_falls_back_for_parallel_vectors():
    a = torch.randn(1, 4, 4, generator=torch.Generator().manual_seed(0))
    path = slerp(a, 2 * a, torch.tensor([0.0, 0.5, 1.0]))
    assert path.shape == (3, 1, 4, 4)
    assert torch.allclose(path[1], 1.5 * a, atol=1e-6)
    assert torch.allclose(slerp(a, -a + 1e-3, torch.tensor([0.0]))[0], a, atol=1e-5)
