"""Ex-post density estimation (``sample_prior=gmm`` / ``class-gmm``): the posterior bank, the mixture fits and
their samplers."""

import pytest
import torch

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.registry import get_family
from genlab.models.vae_prior import PosteriorBank, fit_class_gmms, fit_gmm, sample_class_gmms, sample_gmm
from genlab.runs.checkpoint import load_checkpoint, save_checkpoint

MNIST = DataInfo(1, 28, 28, 10)


def build(name, seed=0, **overrides):
    spec = get_family(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return spec.family_cls(spec.config_cls(**{**spec.tiny, **overrides}), MNIST)


def test_the_bank_is_a_ring_of_the_latest_means():
    bank = PosteriorBank(5, 2)
    bank.add(torch.arange(6.0).view(3, 2))
    assert int(bank.count) == 3 and bank.filled().tolist() == [[0, 1], [2, 3], [4, 5]]
    bank.add(torch.arange(6.0, 14.0).view(4, 2))  # wraps: the oldest two are overwritten
    assert int(bank.count) == 7 and sorted(bank.filled()[:, 0].tolist()) == [4, 6, 8, 10, 12]
    bank.add(torch.arange(20.0).view(10, 2))  # a batch larger than the bank keeps its last 5 rows
    assert sorted(bank.filled()[:, 0].tolist()) == [10, 12, 14, 16, 18]


def test_mixture_samples_have_the_closed_form_mean_and_covariance():
    weights = torch.tensor([0.25, 0.75])
    means = torch.tensor([[-4.0, 0.0], [2.0, 1.0]])
    covs = torch.stack([torch.tensor([[1.0, 0.5], [0.5, 2.0]]), torch.eye(2) * 0.25])
    z = sample_gmm(weights, means, torch.linalg.cholesky(covs), 200_000, torch.Generator().manual_seed(0))
    mean = (weights[:, None] * means).sum(0)  # E z = sum_k w_k mu_k
    second = (weights[:, None, None] * (covs + means[:, :, None] * means[:, None, :])).sum(0)
    cov = second - mean[:, None] * mean[None, :]  # Cov z = sum_k w_k (S_k + mu_k mu_k^T) - E z E z^T
    assert torch.allclose(z.mean(0), mean, atol=0.02)
    assert torch.allclose(torch.cov(z.T), cov, atol=0.05)
    draw = lambda seed: sample_gmm(weights, means, torch.linalg.cholesky(covs), 5, torch.Generator().manual_seed(seed))  # noqa: E731
    assert torch.equal(draw(0), draw(0)) and not torch.equal(draw(0), draw(1))  # the generator alone fixes the draws


def test_the_fit_recovers_separated_clusters_and_is_deterministic():
    g = torch.Generator().manual_seed(1)
    centres = torch.tensor([[-6.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    z = torch.cat([c + 0.5 * torch.randn(300, 2, generator=g) for c in centres])
    weights, means, chol = fit_gmm(z, 3)
    order = means[:, 0].argsort()
    assert torch.allclose(means[order], centres[[0, 2, 1]], atol=0.15)  # sorted by x
    assert torch.allclose(weights, torch.full((3,), 1 / 3), atol=0.01)
    assert torch.allclose(chol @ chol.transpose(1, 2), 0.25 * torch.eye(2).expand(3, 2, 2), atol=0.06)
    assert all(torch.equal(a, b) for a, b in zip(fit_gmm(z, 3), (weights, means, chol)))


@pytest.mark.parametrize("name", ["vae", "conv-vae", "cvae"])
def test_training_fills_the_bank_and_samples_come_from_the_mixture(name, tmp_path):
    family = build(name, sample_prior="gmm", prior_components=2, prior_bank=16)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(6, 1, 28, 28, generator=g), torch.randint(0, 10, (6,), generator=g)
    first = family.prior_sample(4, torch.Generator().manual_seed(3))  # an empty bank: N(0, I)
    assert torch.equal(first, torch.randn(4, family.cfg.latent_dim, generator=torch.Generator().manual_seed(3)))
    for _ in range(3):
        family.train_step(x, y, g)
    bank = family.nets["posterior_bank"]
    assert int(bank.count) == 18 and bank.filled().shape == (16, family.cfg.latent_dim)
    z = family.prior_sample(4000, torch.Generator().manual_seed(0))
    assert z.shape == (4000, family.cfg.latent_dim)
    held = bank.filled()  # EM's mixture keeps the data's mean and covariance: z has the bank's moments, not N(0, I)'s
    assert torch.allclose(z.mean(0), held.mean(0), atol=4 * float(held.std(0).max()) / 4000**0.5)
    assert torch.allclose(z.std(0), held.std(0, correction=0), rtol=0.1)
    images = family.sample(4, labels=y[:4], generator=torch.Generator().manual_seed(0))
    assert images.shape == (4, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    save_checkpoint(tmp_path / "ckpt", {"family": family.state_dict()}, {})
    restored = build(name, seed=9, sample_prior="gmm", prior_components=2, prior_bank=16)
    restored.load_state_dict(load_checkpoint(tmp_path / "ckpt.json")[0]["family"])
    assert torch.equal(restored.nets["posterior_bank"].bank, bank.bank)  # the checkpoint holds the bank
    again = restored.sample(4, labels=y[:4], generator=torch.Generator().manual_seed(0))
    assert torch.equal(again, images)  # same bank, same mixture, same samples


def test_a_labelled_bank_keeps_each_means_label_through_the_ring():
    bank = PosteriorBank(3, 1, labelled=True)
    bank.add(torch.tensor([[0.0], [1.0]]), torch.tensor([5, 6]))
    bank.add(torch.tensor([[2.0], [3.0]]), torch.tensor([7, 8]))  # wraps over the row of mean 0
    pairs = sorted(zip(bank.filled()[:, 0].tolist(), bank.filled_labels().tolist()))
    assert pairs == [(1.0, 6), (2.0, 7), (3.0, 8)]
    with pytest.raises(ValueError, match="labels"):
        bank.add(torch.zeros(1, 1))
    with pytest.raises(ValueError, match="labels"):
        PosteriorBank(3, 1).add(torch.zeros(1, 1), torch.zeros(1, dtype=torch.long))


def test_each_class_draws_from_its_own_mixture():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-5.0, 0.0], [5.0, 2.0], [0.0, -7.0]])  # class 2 has too few rows for 2 components
    z = torch.cat([centres[0] + 0.5 * torch.randn(400, 2, generator=g), centres[1] + torch.randn(400, 2, generator=g)])
    z = torch.cat([z, centres[2].expand(3, 2)])
    labels = torch.tensor([0] * 400 + [1] * 400 + [2] * 3)
    mixtures = fit_class_gmms(z, labels, 4, 2)
    assert mixtures[2] is None and mixtures[3] is None and mixtures[0] is not None
    want = torch.tensor([1, 0, 2, 1, 0] * 4000)
    draws = sample_class_gmms(mixtures, want, 2, torch.Generator().manual_seed(1))
    for c in (0, 1):  # EM keeps the moments of the rows it was fitted to; 8 000 draws pin them to about 2 %
        held = z[labels == c]
        assert torch.allclose(draws[want == c].mean(0), held.mean(0), atol=0.05)
        assert torch.allclose(draws[want == c].std(0), held.std(0, correction=0), rtol=0.06)
    assert torch.allclose(draws[want == 2].mean(0), torch.zeros(2), atol=0.1)  # no mixture: N(0, I)
    assert torch.allclose(draws[want == 2].std(0), torch.ones(2), rtol=0.08)
    again = sample_class_gmms(mixtures, want, 2, torch.Generator().manual_seed(1))
    assert torch.equal(again, draws)


def test_cvae_class_mixture_trains_samples_per_label_and_resumes(tmp_path):
    opts = {"sample_prior": "class-gmm", "prior_components": 1, "prior_bank": 64}
    family = build("cvae", **opts)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(8, 1, 28, 28, generator=g), torch.tensor([3, 7] * 4)
    for _ in range(4):
        family.train_step(x, y, g)
    bank = family.nets["posterior_bank"]
    assert int(bank.count) == 32 and sorted(set(bank.filled_labels().tolist())) == [3, 7]
    # Put the classes' means far apart by hand: a sample for label 3 must come from 3's, one for 7 from 7's.
    bank.bank[:32] = torch.where((bank.labels[:32] == 3)[:, None], -4.0, 4.0) + 0.01 * torch.randn(32, 2, generator=g)
    family._mixture = None  # the count is unchanged, so drop the cached fit from before the edit
    labels = torch.tensor([3, 7] * 50)
    z = family.prior_sample(100, torch.Generator().manual_seed(0), labels)
    assert (z[labels == 3] < -3).all() and (z[labels == 7] > 3).all()
    unseen = family.prior_sample(20, torch.Generator().manual_seed(0))  # labels 0..9: unseen classes draw N(0, I)
    assert (unseen[3] < -3).all() and (unseen[7] > 3).all() and unseen[[0, 1, 2]].abs().max() < 4
    images = family.sample(4, labels=torch.tensor([3, 7, 3, 7]), generator=torch.Generator().manual_seed(2))
    save_checkpoint(tmp_path / "ckpt", {"family": family.state_dict()}, {})
    restored = build("cvae", seed=9, **opts)
    restored.load_state_dict(load_checkpoint(tmp_path / "ckpt.json")[0]["family"])
    assert torch.equal(restored.nets["posterior_bank"].labels, bank.labels)
    again = restored.sample(4, labels=torch.tensor([3, 7, 3, 7]), generator=torch.Generator().manual_seed(2))
    assert torch.equal(again, images)


def test_the_class_mixture_needs_a_conditional_vae():
    with pytest.raises(ConfigError, match="class-gmm needs a conditional"):
        build("vae", sample_prior="class-gmm")


def test_the_standard_prior_keeps_no_bank():
    assert "posterior_bank" not in build("vae").nets


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"sample_prior": "flow"}, "sample_prior"),
        ({"prior_components": 0}, "prior_components"),
        ({"prior_components": 10, "prior_bank": 15}, "prior_bank"),
    ],
)
def test_bad_prior_options_are_config_errors(overrides, words):
    with pytest.raises(ConfigError, match=words):
        build("vae", **overrides)
