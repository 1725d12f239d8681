"""PSNR, SSIM and L1 against closed forms and a direct per-window reference."""

import math

import numpy as np
import pytest
import torch

from genlab.math.image_metrics import SSIM_K1, SSIM_K2, gaussian_window, mean_absolute_error, psnr, ssim, ssim_map


def rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_ssim_of_an_image_with_itself_is_one():
    x = rand(3, 2, 16, 20)
    assert torch.allclose(ssim(x, x), torch.ones(3, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize(
    "a, shift, data_range", [(0.3, 0.2, 1.0), (0.0, 0.5, 1.0), (-0.5, 1.0, 2.0), (40.0, 30.0, 255.0)]
)
def test_ssim_of_a_constant_shift_of_a_constant_image_matches_the_formula(a, shift, data_range):
    # sigma_x = sigma_y = sigma_xy = 0, so SSIM = (2 a (a + c) + C1) / (a^2 + (a + c)^2 + C1).
    x = torch.full((1, 1, 12, 12), a, dtype=torch.float64)
    c1 = (SSIM_K1 * data_range) ** 2
    expected = (2 * a * (a + shift) + c1) / (a**2 + (a + shift) ** 2 + c1)
    assert ssim(x, x + shift, data_range).item() == pytest.approx(expected, rel=1e-9)


def test_ssim_of_a_shifted_textured_image_is_the_luminance_term_only():
    # y = x + c: sigma_y = sigma_x, sigma_xy = sigma_x^2, so the contrast-structure factor is 1.
    x, c = rand(1, 1, 14, 14, seed=3), 0.25
    w = gaussian_window().numpy()
    c1 = (SSIM_K1 * 1.0) ** 2
    xs = x[0, 0].numpy()
    mu = np.array([[(w * xs[i : i + 11, j : j + 11]).sum() for j in range(4)] for i in range(4)])
    expected = ((2 * mu * (mu + c) + c1) / (mu**2 + (mu + c) ** 2 + c1)).mean()
    assert ssim(x, x + c).item() == pytest.approx(expected, rel=1e-9)


def test_ssim_map_matches_a_direct_window_by_window_computation():
    x, y = rand(1, 2, 13, 12, seed=1), rand(1, 2, 13, 12, seed=2)
    w = gaussian_window().numpy()
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    got = ssim_map(x, y).numpy()
    assert got.shape == (1, 2, 3, 2)
    for ch in range(2):
        for i in range(3):
            for j in range(2):
                px, py = x[0, ch, i : i + 11, j : j + 11].numpy(), y[0, ch, i : i + 11, j : j + 11].numpy()
                mx, my = (w * px).sum(), (w * py).sum()
                vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
                cov = (w * (px - mx) * (py - my)).sum()
                ref = (2 * mx * my + c1) * (2 * cov + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
                assert got[0, ch, i, j] == pytest.approx(ref, rel=1e-9)


def test_ssim_is_symmetric_below_one_for_different_images_and_drops_with_noise():
    x = rand(2, 1, 16, 16, seed=4)
    noise = rand(2, 1, 16, 16, seed=5) - 0.5
    mild, strong = ssim(x, x + 0.1 * noise), ssim(x, x + 0.5 * noise)
    assert torch.allclose(ssim(x, x + 0.1 * noise), ssim(x + 0.1 * noise, x))
    assert (strong < mild).all() and (mild < 1).all()


def test_gaussian_window_sums_to_one_and_peaks_in_the_middle():
    w = gaussian_window()
    assert w.shape == (11, 11) and w.sum().item() == pytest.approx(1.0) and w.argmax().item() == 5 * 11 + 5


@pytest.mark.parametrize("error, data_range", [(0.1, 1.0), (0.01, 1.0), (16.0, 255.0), (0.5, 2.0)])
def test_psnr_of_a_constant_error_is_ten_log10_of_range_squared_over_error_squared(error, data_range):
    x = rand(2, 3, 8, 8)
    expected = 10 * math.log10(data_range**2 / error**2)
    assert torch.allclose(psnr(x, x + error, data_range), torch.full((2,), expected, dtype=torch.float64))


def test_psnr_of_identical_images_is_infinite():
    x = rand(1, 1, 8, 8)
    assert psnr(x, x).item() == math.inf


def test_mean_absolute_error_per_image():
    x = torch.zeros(2, 1, 4, 4, dtype=torch.float64)
    y = x.clone()
    y[0] += 0.5
    y[1, 0, 0, :] = 1.0  # 4 of 16 pixels off by 1
    assert torch.allclose(mean_absolute_error(x, y), torch.tensor([0.5, 0.25], dtype=torch.float64))


def test_metrics_reject_mismatched_shapes_and_too_small_images():
    with pytest.raises(ValueError, match="one shape"):
        psnr(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9))
    with pytest.raises(ValueError, match="smaller than"):
        ssim(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
