"""``ddpm-progressive`` and ``ddpm-consistency`` at tiny sizes: losses, samplers, guidance, teachers, resume."""

import copy

import pytest
import torch
from reliability.helpers import assert_same_run, tiny_run

from genlab.config import TrainConfig
from genlab.data import DataInfo
from genlab.errors import CheckpointError, ConfigError
from genlab.models.distill_teacher import UNTRAINED, UNTRAINED_LDM, Teacher, build_teacher, nets_hash
from genlab.models.registry import get_family
from genlab.runs import RunConfig, load_family, weights_hash
from genlab.training import train

INFO = DataInfo(channels=1, height=28, width=28, num_classes=10)
METHODS = ["ddpm-progressive", "ddpm-consistency"]


@pytest.fixture(autouse=True)
def one_thread():
    """Pinned threads: training numbers (and speed on a shared machine) do not depend on the core count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(name, seed=0, **overrides):
    spec = get_family(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return spec.family_cls(spec.config_cls(**{**spec.tiny, **overrides}), INFO)


def batch(family, n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g)
    return (x if family.data_scale == "0,1" else x * 2 - 1), torch.randint(0, 10, (n,), generator=g)


def probe_loss(family, x, y, seed=99):
    """The loss of the family's current weights on one fixed draw (a copy takes the step)."""
    return copy.deepcopy(family).train_step(x, y, torch.Generator().manual_seed(seed))["loss"]


@pytest.mark.parametrize("teacher, prediction", [(UNTRAINED, "teacher"), (UNTRAINED_LDM, "teacher"), (UNTRAINED, "v")])
@pytest.mark.parametrize("name", METHODS)
def test_training_steps_reduce_the_distillation_loss(name, teacher, prediction):
    extra = {"round_steps": 1000} if name == "ddpm-progressive" else {}
    family = build(
        name, teacher=teacher, student_prediction=prediction, lr=3e-3, label_dropout=0.0, guidance=2.0, **extra
    )
    x, y = batch(family)
    before = probe_loss(family, x, y)
    for k in range(60):
        family.train_step(x, y, torch.Generator().manual_seed(k))
    after = probe_loss(family, x, y)
    # Measured (1 thread, these seeds): 60 steps leave 3-47 % of the starting loss; the bar is 1.5x the worst.
    assert after < 0.7 * before, (before, after)


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("name", METHODS)
def test_the_k_step_sampler_is_deterministic_and_calls_the_student_k_times(name, k):
    family = build(name, sample_steps=k)
    x, y = batch(family)
    family.train_step(x, y, torch.Generator().manual_seed(0))
    calls = []
    hook = family.nets["ema"].net.register_forward_hook(lambda *_: calls.append(1))
    labels = torch.arange(6) % 10
    a = family.sample(6, labels=labels, generator=torch.Generator().manual_seed(1))
    hook.remove()
    b = family.sample(6, labels=labels, generator=torch.Generator().manual_seed(1))
    c = family.sample(6, labels=labels, generator=torch.Generator().manual_seed(2))
    assert len(calls) == k  # one pass per step, whatever guidance w it learned
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (6, 1, 28, 28) and a.min() >= -1 and a.max() <= 1


def test_the_teachers_guided_prediction_is_its_own_sampler_guidance():
    ddpm = build_teacher(UNTRAINED, "latest", INFO)
    teacher = Teacher(ddpm)
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([1, 2, 3, 4])
    i = torch.full((4,), 7)
    x0 = teacher.guided_x0(x, i, labels, 3.0, torch.zeros(4, dtype=torch.bool))
    eps = ddpm.eps_fn(labels, 3.0, teacher.net)(x, 7)
    a = ddpm.alpha_bar[7].float()
    torch.testing.assert_close(x0, (x - (1 - a).sqrt() * eps) / a.sqrt(), rtol=1e-5, atol=1e-5)
    dropped = torch.tensor([True, False, True, False])
    mixed = teacher.guided_x0(x, i, labels, 3.0, dropped)
    uncond = ddpm.eps_fn(labels, 0.0, teacher.net)(x, 7)
    torch.testing.assert_close(mixed[0], ((x - (1 - a).sqrt() * uncond) / a.sqrt())[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mixed[1], x0[1])


@pytest.mark.parametrize("name", METHODS)
def test_the_student_samples_at_its_distilled_w_or_unconditionally_only(name, tmp_path):
    family = build(name, guidance=2.0)
    x, y = batch(family)
    family.train_step(x, y, torch.Generator().manual_seed(0))
    g = torch.Generator
    family.sample(2, labels=torch.tensor([3, 4]), generator=g().manual_seed(0))
    family.eps_fn(torch.tensor([3, 4]), 0.0)(torch.zeros(2, 1, 28, 28), 5)  # w = 0: the null class
    with pytest.raises(ConfigError, match="distilled at guidance w = 2"):
        family.eps_fn(torch.tensor([3, 4]), 1.0)(torch.zeros(2, 1, 28, 28), 5)
    other = build(name, guidance=5.0)  # loaded with another w: the checkpoint's w wins, so sampling refuses
    other.load_state_dict(family.state_dict())
    with pytest.raises(ConfigError, match="distilled at guidance w = 2"):
        other.sample(2, labels=torch.tensor([3, 4]), generator=g().manual_seed(0))


def test_progressive_rounds_restart_from_the_previous_rounds_ema():
    family = build("ddpm-progressive", rounds=(4, 2, 1), round_steps=2)
    teacher_net = copy.deepcopy(family.teacher.net.state_dict())
    x, y = batch(family)
    assert all(torch.equal(a, b) for a, b in zip(teacher_net.values(), family.nets["student"].state_dict().values()))
    for k in range(2):
        family.train_step(x, y, torch.Generator().manual_seed(k))
    ema = copy.deepcopy(family.nets["ema"].net.state_dict())
    assert family.round == 0 and family.teacher.net.state_dict().keys() == ema.keys()
    family.train_step(x, y, torch.Generator().manual_seed(2))  # step 3 starts round 1
    assert family.round == 1 and int(family.nets["ema"].num_updates) == 1
    assert all(torch.equal(ema[k], v) for k, v in family.round_teacher.state_dict().items())
    assert all(torch.equal(teacher_net[k], v) for k, v in family.teacher.net.state_dict().items())  # frozen
    for k in range(3, 8):
        family.train_step(x, y, torch.Generator().manual_seed(k))
    assert family.round == 2  # the last round keeps any further steps


def test_configs_refuse_what_cannot_work():
    spec = get_family("ddpm-progressive")
    for bad in ({"rounds": (8, 3)}, {"rounds": ()}, {"round_steps": 0}, {"eta": 0.5}, {"teacher": ""}):
        with pytest.raises(ConfigError):
            spec.config_cls(**{**spec.tiny, **bad}).check()
    with pytest.raises(ConfigError, match="round 0 needs 64 teacher steps"):
        build("ddpm-progressive", rounds=(32, 16))  # the tiny teacher has 20 diffusion steps
    cspec = get_family("ddpm-consistency")
    with pytest.raises(ConfigError, match="at most ode_steps"):
        cspec.config_cls(**{**cspec.tiny, "sample_steps": 5}).check()


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    """A tiny trained ddpm run (3 steps), conditional, guidance 2 by default."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("teacher")
    spec = get_family("ddpm")
    model = spec.config_cls(**{**spec.tiny, "guidance": 2.0})
    train(RunConfig("ddpm", model, TrainConfig(steps=3, batch_size=8, grid_size=4)), root / "ddpm", quiet=True)
    vae = tiny_run("vae", steps=2)
    train(vae, root / "vae", quiet=True)
    torch.set_num_threads(threads)
    return root


def test_a_teacher_run_is_pinned_by_its_weights_hash(teacher_run):
    family, _, _ = load_family(teacher_run / "ddpm")
    pinned = weights_hash(family.state_dict()["nets"])  # what the teacher's own sample grids record
    assert nets_hash(family.nets) == pinned
    student = build("ddpm-progressive", teacher=str(teacher_run / "ddpm"), teacher_hash=pinned)
    assert student.teacher.hash() == pinned
    with pytest.raises(CheckpointError, match="not the one this student was distilled from"):
        build("ddpm-progressive", teacher=str(teacher_run / "ddpm"), teacher_hash="state-sha256:" + "0" * 64)
    with pytest.raises(ConfigError, match="not a diffusion run"):
        build("ddpm-consistency", teacher=str(teacher_run / "vae"))


@pytest.mark.parametrize("name", METHODS)
def test_resume_rebuilds_the_teacher_and_is_bit_exact(name, teacher_run, tmp_path):
    spec = get_family(name)
    teacher = str(teacher_run / "ddpm")
    family, _, _ = load_family(teacher)
    model = {**spec.tiny, "teacher": teacher, "teacher_hash": weights_hash(family.state_dict()["nets"])}
    if name == "ddpm-progressive":
        model.update(rounds=(4, 2, 1), round_steps=2)  # the resume lands inside round 1
    run = tiny_run(name, steps=6, model=model, keep_last=2)  # both keep steps 4 and 6
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(run, whole, quiet=True)
    assert train(run, split, quiet=True, stop_at=3).interrupted
    train(None, split, resume=True, quiet=True)  # the teacher is read again from its run and checked
    assert_same_run(whole, split)
