"""The diffusion variational bound (genlab.eval.diffusion_nll) on a freshly built tiny ddpm and on a model whose
terms are known, so the exact sum and the stratified estimate can be checked against closed forms."""

import math

import pytest
import torch

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.eval.diffusion_nll import estimate_bound, image_bounds, strata, stratified_steps
from genlab.models.base import VariationalBound
from genlab.models.registry import get_family

INFO = DataInfo(1, 28, 28, 10)


def tiny_ddpm(**overrides):
    """A tiny ddpm whose EMA weights are jittered: a fresh U-Net's zero output layer would predict eps = 0."""
    spec = get_family("ddpm")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        family = spec.family_cls(spec.config_cls(**{**spec.tiny, **overrides}), INFO)
        with torch.no_grad():
            for p in family.nets["ema"].net.parameters():
                p.add_(0.05 * torch.randn_like(p))
    return family


def levels(n, seed=0):
    """n images on the 256 grey levels of [-1, 1]: (n, 1, 28, 28)."""
    return torch.randint(0, 256, (n, 1, 28, 28), generator=torch.Generator().manual_seed(seed)) / 127.5 - 1


class KnownTerms:
    """A VariationalBound whose term at step i is (i mod 7) + 1 + pixel mean: the exact sum is known."""

    def __init__(self, steps):
        self.steps = steps

    def bound_steps(self):
        return self.steps

    def prior_term(self, x):
        return torch.full((x.shape[0],), 0.5, dtype=torch.float64)

    def bound_terms(self, x, i, labels, *, generator):
        return ((i % 7) + 1).double() + x.flatten(1).mean(1).double()

    def exact(self, x):
        pixel = x.flatten(1).mean(1).double()
        return 0.5 + sum((i % 7) + 1 for i in range(self.steps)) + self.steps * pixel


def test_known_terms_declare_the_protocol():
    assert isinstance(KnownTerms(5), VariationalBound) and isinstance(tiny_ddpm(), VariationalBound)
    assert not isinstance(get_family("vae").family_cls(get_family("vae").config_cls(hidden=8), INFO), VariationalBound)


def test_strata_cover_every_step_once():
    for num, k in [(999, 50), (19, 19), (19, 4), (7, 3), (999, 999), (5, 1)]:
        bounds = strata(num, k)
        covered = [s for lo, hi in bounds for s in range(lo, hi)]
        assert covered == list(range(1, num + 1)) and len(bounds) == k
    sizes = [hi - lo for lo, hi in strata(999, 50)]
    assert sizes[:10] == [1] * 10 and sizes == sorted(sizes) and sizes[-1] > 50  # single steps at small t
    steps, size = stratified_steps(999, 50, 300, torch.Generator().manual_seed(0))
    lo = torch.tensor([a for a, _ in strata(999, 50)])
    assert steps.shape == (50, 300) and size.sum() == 999
    assert ((steps >= lo[:, None]) & (steps < lo[:, None] + size[:, None].long())).all()


def test_all_steps_give_the_exact_sum_and_strata_an_unbiased_estimate():
    family, x = KnownTerms(1000), levels(400)
    exact = estimate_bound(family, x, None, timesteps=0, batch_size=128)
    assert exact.exact and exact.timesteps == 999
    assert exact.nll == pytest.approx(float(family.exact(x).mean()), rel=1e-12)
    strat = estimate_bound(family, x, None, timesteps=10, seed=3, batch_size=128)
    assert not strat.exact and strat.timesteps == 10
    # unbiased: within 4 standard errors of the exact value (the SE here is the step draws' only)
    assert abs(strat.nll - exact.nll) < 4 * strat.nll_se and strat.nll_se > 0
    assert strat.prior == 0.5 and strat.decoder == pytest.approx(exact.decoder)


def test_tiny_ddpm_bound_is_finite_positive_and_the_sum_of_its_terms():
    family, x = tiny_ddpm(), levels(3)
    parts = image_bounds(family, x, torch.tensor([1, 2, 3]), timesteps=0, generator=torch.Generator().manual_seed(5))
    assert all(torch.isfinite(v).all() for v in parts.values()) and (parts["total"] > 0).all()
    torch.testing.assert_close(parts["total"], parts["prior"] + parts["decoder"] + parts["diffusion"])
    # the same sum term by term, with the generator consumed in the same order (L_0, then t = 2..T)
    g, y = torch.Generator().manual_seed(5), torch.tensor([1, 2, 3])
    by_hand = family.prior_term(x) + family.bound_terms(x, torch.zeros(3, dtype=torch.long), y, generator=g)
    for i in range(1, family.bound_steps()):
        by_hand += family.bound_terms(x, torch.full((3,), i), y, generator=g)
    torch.testing.assert_close(parts["total"], by_hand)


def test_tiny_ddpm_bits_per_dim_and_determinism():
    family, x = tiny_ddpm(), levels(4)
    a = estimate_bound(family, x, None, timesteps=5, seed=1, batch_size=3)
    assert a.n == 4 and a.dims == 784 and a.steps == 20 and a.nll > 0 and math.isfinite(a.nll_se)
    assert a.bits_per_dim == pytest.approx(a.nll / (784 * math.log(2)), rel=1e-12)
    assert a.bits_per_dim_se == pytest.approx(a.nll_se / (784 * math.log(2)), rel=1e-12)
    assert a == estimate_bound(family, x, None, timesteps=5, seed=1, batch_size=3)
    assert a.nll != estimate_bound(family, x, None, timesteps=5, seed=2, batch_size=3).nll


def test_conditional_bound_uses_the_labels():
    family, x = tiny_ddpm(), levels(2)
    assert family.conditional
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    step = torch.tensor([3, 3])
    with_labels = family.bound_terms(x, step, torch.tensor([0, 1]), generator=g())
    other = family.bound_terms(x, step, torch.tensor([5, 6]), generator=g())
    null = family.bound_terms(x, step, None, generator=g())
    assert not torch.equal(with_labels, other) and not torch.equal(with_labels, null)
    uncond = tiny_ddpm(class_conditional=False)
    assert torch.isfinite(uncond.bound_terms(x, step, None, generator=g())).all()


def test_estimate_bound_refuses_bad_settings():
    with pytest.raises(ConfigError, match="timesteps"):
        estimate_bound(KnownTerms(4), levels(1), None, timesteps=-1)
    with pytest.raises(ConfigError, match="no variational bound"):
        estimate_bound(object(), levels(1), None)
