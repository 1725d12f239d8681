import pytest
import torch

from genlab.math.anneal import cyclical_kl_weight, free_bits_kl, kl_weight, linear_kl_weight


@pytest.mark.parametrize(
    ("step", "expected"),
    # beta = 2, warm-up over 4 steps: 2 * min(1, step / 4)
    [(0, 0.0), (1, 0.5), (2, 1.0), (3, 1.5), (4, 2.0), (100, 2.0)],
)
def test_linear_warmup_by_hand(step, expected):
    assert linear_kl_weight(step, 4, beta=2.0) == expected


def test_linear_without_warmup_is_beta():
    assert linear_kl_weight(0, 0, beta=0.7) == 0.7


@pytest.mark.parametrize(
    ("step", "expected"),
    # Fu et al. 2019 with T = 16 steps, M = 2 cycles (L = 8), R = 0.5: rise over 4 steps, flat for 4.
    [
        (0, 0.0),
        (1, 0.25),
        (2, 0.5),
        (3, 0.75),
        (4, 1.0),
        (7, 1.0),
        (8, 0.0),
        (10, 0.5),
        (12, 1.0),
        (15, 1.0),
        (16, 1.0),
        (50, 1.0),
    ],
)
def test_cyclical_by_hand(step, expected):
    assert cyclical_kl_weight(step, 16, cycles=2, ratio=0.5) == expected


def test_cyclical_with_a_fractional_cycle_length_and_beta():
    # T = 10, M = 4 -> L = 2.5; step 3 is 0.5 into the second cycle: tau = 0.2, R = 0.4 -> 0.5 * beta.
    assert cyclical_kl_weight(3, 10, cycles=4, ratio=0.4, beta=4.0) == pytest.approx(2.0, abs=1e-12)


def test_one_cycle_with_ratio_one_is_the_linear_warmup():
    for step in range(0, 30):
        assert cyclical_kl_weight(step, 20, cycles=1, ratio=1.0, beta=3.0) == pytest.approx(
            linear_kl_weight(step, 20, beta=3.0), abs=1e-12
        )


def test_named_schedules_dispatch():
    assert kl_weight("none", 3, beta=0.5, warmup_steps=10) == 0.5
    assert kl_weight("linear", 3, beta=0.5, warmup_steps=10) == pytest.approx(0.15)
    assert kl_weight("cyclical", 5, beta=1.0, warmup_steps=8, cycles=2, ratio=0.5) == 0.5  # L = 4: tau = 1/4


def test_free_bits_by_hand():
    # Batch means per dimension: [0.1, 1.0, 3.0]; with lambda = 0.5: 0.5 + 1.0 + 3.0.
    kl = torch.tensor([[0.0, 2.0, 3.0], [0.2, 0.0, 3.0]])
    assert free_bits_kl(kl, 0.5).item() == pytest.approx(4.5)
    assert free_bits_kl(kl, 0.0).item() == pytest.approx(kl.sum(1).mean().item())


def test_free_bits_stop_the_gradient_of_dimensions_below_lambda():
    kl = torch.tensor([[0.1, 2.0], [0.3, 4.0]], requires_grad=True)
    free_bits_kl(kl, 1.0).backward()
    assert torch.equal(kl.grad, torch.tensor([[0.0, 0.5], [0.0, 0.5]]))
