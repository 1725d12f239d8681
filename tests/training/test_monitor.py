from genlab.training.monitor import DivergenceMonitor


def test_warns_once_when_discriminator_loss_collapses():
    monitor = DivergenceMonitor(warmup_steps=10)
    fired = [w for _ in range(500) for w in monitor.update({"loss_d": 0.001, "loss_g": 3.0})]
    assert len(fired) == 1 and "discriminator loss" in fired[0]


def test_warns_once_when_generator_loss_explodes():
    monitor = DivergenceMonitor(warmup_steps=10)
    fired = [w for _ in range(500) for w in monitor.update({"loss_d": 0.7, "loss_g": 50.0})]
    assert len(fired) == 1 and "generator loss" in fired[0]


def test_healthy_losses_and_warmup_stay_quiet():
    monitor = DivergenceMonitor(warmup_steps=100)
    assert not [w for _ in range(50) for w in monitor.update({"loss_d": 0.0, "loss_g": 99.0})]
    healthy = DivergenceMonitor(warmup_steps=10)
    assert not [w for _ in range(1000) for w in healthy.update({"loss_d": 1.2, "loss_g": 0.9})]


def test_state_round_trip():
    monitor = DivergenceMonitor(warmup_steps=1)
    for _ in range(300):
        monitor.update({"loss_d": 0.001})
    copy = DivergenceMonitor(warmup_steps=1)
    copy.load_state_dict(monitor.state_dict())
    assert copy.fired == {"d_collapse"} and copy.update({"loss_d": 0.001}) == []
