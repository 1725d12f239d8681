"""GAN losses and penalties against values worked out by hand."""

import math

import pytest
import torch

from genlab.math.gan import GAN_LOSSES, discriminator_loss, generator_loss, gradient_penalty, r1_penalty

REAL = torch.tensor([2.0, -0.5])
FAKE = torch.tensor([-1.0, 0.5])


def test_hinge_loss_by_hand():
    # D: mean(relu(1 - [2, -0.5])) + mean(relu(1 + [-1, 0.5])) = (0 + 1.5)/2 + (0 + 1.5)/2 = 1.5
    assert discriminator_loss(REAL, FAKE, kind="hinge").item() == pytest.approx(1.5)
    assert generator_loss(FAKE, "hinge").item() == pytest.approx(0.25)  # -mean([-1, 0.5])


def test_least_squares_loss_by_hand():
    # D: 0.5 * (mean((2-1)^2, (-0.5-1)^2) + mean((-1)^2, 0.5^2)) = 0.5 * (1.625 + 0.625) = 1.125
    assert discriminator_loss(REAL, FAKE, kind="least-squares").item() == pytest.approx(1.125)
    # G: 0.5 * mean((-1-1)^2, (0.5-1)^2) = 0.5 * 2.125
    assert generator_loss(FAKE, "least-squares").item() == pytest.approx(1.0625)
    # one-sided smoothing moves the real target: 0.5 * (mean(1.1^2, 1.4^2) + 0.625)
    smoothed = discriminator_loss(REAL, FAKE, 0.9, kind="least-squares").item()
    assert smoothed == pytest.approx(0.5 * ((1.1**2 + 1.4**2) / 2 + 0.625))


def test_wasserstein_loss_is_the_negated_mean_gap():
    assert discriminator_loss(REAL, FAKE, kind="wasserstein").item() == pytest.approx(-1.0)  # -0.25 - 0.75
    assert generator_loss(FAKE, "wasserstein").item() == pytest.approx(0.25)


def test_bce_with_smoothed_and_flipped_targets():
    t_real, t_fake = torch.tensor([0.9, 0.0]), torch.tensor([0.0, 1.0])
    sig = torch.sigmoid
    expected = -(
        (0.9 * torch.log(sig(REAL[0])) + 0.1 * torch.log(1 - sig(REAL[0])) + torch.log(1 - sig(REAL[1]))) / 2
        + (torch.log(1 - sig(FAKE[0])) + torch.log(sig(FAKE[1]))) / 2
    )
    got = discriminator_loss(REAL, FAKE, t_real, kind="non-saturating", fake_target=t_fake)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("kind", GAN_LOSSES)
def test_every_loss_pushes_the_generator_towards_higher_scores(kind):
    logit = torch.tensor([0.3], requires_grad=True)
    generator_loss(logit, kind).backward()
    assert logit.grad.item() < 0


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="unknown GAN loss"):
        generator_loss(FAKE, "bogus")


def test_gradient_penalty_of_a_linear_critic_is_closed_form():
    # D(x) = w . x has gradient w everywhere: penalty (||w|| - 1)^2, whatever the interpolates.
    w = torch.tensor([3.0, 4.0])
    critic = lambda x: x.reshape(x.shape[0], -1) @ w  # noqa: E731
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    gp = gradient_penalty(critic, real, fake, torch.rand(6))
    assert gp.item() == pytest.approx((5.0 - 1.0) ** 2)
    assert r1_penalty(critic, real).item() == pytest.approx(0.5 * 25.0)


def test_gradient_penalty_is_differentiable_in_the_critic_weights():
    w = torch.tensor([0.6, 0.0], requires_grad=True)
    gp = gradient_penalty(lambda x: x @ w, torch.randn(4, 2), torch.randn(4, 2), torch.rand(4))
    gp.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 2 * (-0.4) * [1, 0]
    assert torch.allclose(w.grad, torch.tensor([-0.8, 0.0]))


def test_packed_gradient_penalty_takes_the_norm_over_each_pack():
    # Scores for packs of 2 samples: D(x1, x2) = w.x1 + w.x2, gradient norm sqrt(2) ||w||.
    w = torch.tensor([1.0, 0.0])
    critic = lambda x: (x @ w).view(-1, 2).sum(dim=1)  # noqa: E731
    gp = gradient_penalty(critic, torch.randn(4, 2), torch.randn(4, 2), torch.rand(4))
    assert gp.item() == pytest.approx((math.sqrt(2) - 1) ** 2)
