"""The trainer on tiny models and the embedded MNIST: outputs, resume, failure."""

import dataclasses
import json

import numpy as np
import pytest
import torch
import yaml
from nan_helpers import poison_train_step

from genlab.config import TrainConfig
from genlab.data import load_image
from genlab.errors import CheckpointError, ConfigError
from genlab.models.registry import family_names, get_family
from genlab.runs import RunConfig, read_metrics
from genlab.runs.checkpoint import load_checkpoint, step_checkpoints
from genlab.runs.rundir import find_checkpoint
from genlab.training import train
from genlab.training.faults import TrainingDiverged

TIMING = {"images_per_s", "step_s", "elapsed_s", "peak_rss_mb"}


def tiny_run(name, steps=6, **train_overrides):
    spec = get_family(name)
    tc = TrainConfig(
        dataset=spec.dataset,
        steps=steps,
        batch_size=16,
        log_every=2,
        sample_every=3,
        checkpoint_every=2,
        grid_size=4,
        **train_overrides,
    )
    return RunConfig(name, spec.config_cls(**spec.tiny), tc)


def tensors_of(state):
    if isinstance(state, torch.Tensor):
        yield state
    elif isinstance(state, dict):
        for v in state.values():
            yield from tensors_of(v)
    elif isinstance(state, (list, tuple)):
        for v in state:
            yield from tensors_of(v)


def without_timing(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def test_run_directory_layout(tmp_path):
    result = train(tiny_run("vae", keep_last=2), tmp_path / "run", quiet=True)
    run_dir = tmp_path / "run"
    assert result.step == 6 and not result.interrupted
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["family"] == "vae" and config["train"]["seed"] == 0
    assert config["versions"]["torch"].startswith("2.13.0")
    assert [s for s, _ in step_checkpoints(run_dir / "checkpoints")] == [4, 6]  # keep_last=2
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == ["step_00000003.png", "step_00000006.png"]
    records = read_metrics(run_dir)
    assert [r["step"] for r in records if "loss" in r] == [2, 4, 6]
    assert [r["step"] for r in records if "test_loss" in r] == [3, 6]  # held-out loss, per image


def test_fixed_noise_grids_use_the_same_z_every_time(tmp_path):
    # With a negligible lr (and no BatchNorm statistics) the model never changes, so the
    # same z must give byte-identical grids.
    spec = get_family("gan")
    run = RunConfig(
        "gan",
        spec.config_cls(**{**spec.tiny, "lr": 1e-30}),
        TrainConfig(steps=4, batch_size=8, sample_every=2, grid_size=4),
    )
    train(run, tmp_path / "run", quiet=True)
    grids = sorted((tmp_path / "run" / "samples").iterdir())
    # The pixels match; the PNG bytes differ only in their provenance (the step number).
    assert len(grids) == 2 and np.array_equal(load_image(grids[0]), load_image(grids[1]))


@pytest.mark.parametrize("name", family_names())
def test_resume_is_bit_exact(name, tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(tiny_run(name), whole, quiet=True)
    first = train(tiny_run(name), split, quiet=True, stop_at=3)
    assert first.interrupted and first.step == 3
    train(None, split, resume=True, quiet=True)
    state_a, meta_a = load_checkpoint(find_checkpoint(whole))
    state_b, meta_b = load_checkpoint(find_checkpoint(split))
    assert meta_a["step"] == meta_b["step"] == 6
    pairs = list(zip(tensors_of(state_a), tensors_of(state_b), strict=True))
    assert pairs and all(torch.equal(a, b) for a, b in pairs)
    assert without_timing(read_metrics(whole)) == without_timing(read_metrics(split))
    assert (whole / "samples" / "step_00000006.png").read_bytes() == (
        split / "samples" / "step_00000006.png"
    ).read_bytes()


def test_resume_can_extend_the_run(tmp_path):
    train(tiny_run("gan", steps=2), tmp_path / "run", quiet=True)
    result = train(tiny_run("gan", steps=4), tmp_path / "run", resume=True, quiet=True)
    assert result.step == 4
    assert json.loads(find_checkpoint(tmp_path / "run").read_text())["step"] == 4


def test_training_leaves_the_callers_rng_alone(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(tiny_run("gan", steps=2), tmp_path / "run", quiet=True)
    assert torch.equal(torch.rand(3), expected)


def test_divergence_stops_with_a_clear_error(tmp_path, monkeypatch):
    family_cls = get_family("vae").family_cls
    monkeypatch.setattr(family_cls, "train_step", lambda self, x, y, g: {"loss": float("nan")})
    with pytest.raises(TrainingDiverged, match="loss=nan at step 1"):
        train(tiny_run("vae"), tmp_path / "run", quiet=True)


def test_resume_is_bit_exact_with_several_critic_batches_and_generator_ema(tmp_path):
    spec = get_family("wgan-gp")
    model = spec.config_cls(
        **{**spec.tiny, "n_critic": 3, "ema": 0.9, "diffaug": "translation", "instance_noise": 0.1}
    )
    tc = TrainConfig(steps=6, batch_size=8, log_every=2, sample_every=3, checkpoint_every=2, grid_size=4)
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(RunConfig("wgan-gp", model, tc), whole, quiet=True)
    train(RunConfig("wgan-gp", model, tc), split, quiet=True, stop_at=3)
    train(None, split, resume=True, quiet=True)
    state_a, meta_a = load_checkpoint(find_checkpoint(whole))
    state_b, _ = load_checkpoint(find_checkpoint(split))
    assert all(torch.equal(a, b) for a, b in zip(tensors_of(state_a), tensors_of(state_b), strict=True))
    assert state_a["family"]["step"] == 6
    # 6 steps of 3 batches of 8 images: 144 images seen, epoch = 144 / 60000
    assert meta_a["epoch"] == pytest.approx(6 / (60000 // 8 // 3))
    records = without_timing(read_metrics(whole))
    assert records == without_timing(read_metrics(split))
    assert all("w_estimate" in r for r in records if "loss_d" in r)


@pytest.mark.parametrize("damage", ["truncate", "delete-tensors"])
def test_resume_skips_a_damaged_newest_checkpoint_and_stays_bit_exact(damage, tmp_path, capsys):
    """A crash mid-write can leave the newest checkpoint torn: resume reports it in one line,
    falls back to the one before, and still ends bit for bit where an unbroken run ends."""
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(tiny_run("vae"), whole, quiet=True)
    train(tiny_run("vae"), split, quiet=True, stop_at=4)  # checkpoints at steps 2 and 4
    newest = split / "checkpoints" / "step_00000004.safetensors"
    if damage == "truncate":
        newest.write_bytes(newest.read_bytes()[:-100])
    else:
        newest.unlink()
    capsys.readouterr()
    train(None, split, resume=True, quiet=True)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "step 4" in warnings[0]
    state_a, _ = load_checkpoint(find_checkpoint(whole))
    state_b, _ = load_checkpoint(find_checkpoint(split))
    assert all(torch.equal(a, b) for a, b in zip(tensors_of(state_a), tensors_of(state_b), strict=True))
    assert without_timing(read_metrics(whole)) == without_timing(read_metrics(split))


def test_resume_with_every_checkpoint_damaged_fails_in_one_clear_error(tmp_path):
    train(tiny_run("vae"), tmp_path / "run", quiet=True, stop_at=4)
    for path in (tmp_path / "run" / "checkpoints").glob("*.safetensors"):
        path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="every checkpoint .* is damaged"):
        train(None, tmp_path / "run", resume=True, quiet=True)


def test_nonfinite_skip_undoes_the_bad_step_and_finishes(tmp_path, monkeypatch):
    poison_train_step(get_family("vae").family_cls, monkeypatch, bad_calls={3, 4})
    result = train(tiny_run("vae", nonfinite="skip", nonfinite_patience=3), tmp_path / "run", quiet=True)
    assert result.step == 6 and not result.interrupted
    state, _ = load_checkpoint(find_checkpoint(tmp_path / "run"))
    assert all(torch.isfinite(t).all() for t in tensors_of(state["family"]["nets"]))  # the NaN weights were undone
    assert state["family"]["step"] == 6  # skipped steps do not count
    skipped = [r for r in read_metrics(tmp_path / "run") if "skipped_nonfinite" in r]
    assert [(r["step"], r["skipped_total"]) for r in skipped] == [(3, 1), (3, 2)]
    assert all(np.isfinite(r["loss"]) for r in read_metrics(tmp_path / "run") if "loss" in r)


def test_nonfinite_skip_stops_after_patience_steps_in_a_row(tmp_path, monkeypatch):
    poison_train_step(get_family("vae").family_cls, monkeypatch, bad_calls=set(range(3, 100)))
    with pytest.raises(TrainingDiverged, match="3 non-finite steps in a row"):
        train(tiny_run("vae", nonfinite="skip", nonfinite_patience=3), tmp_path / "run", quiet=True)


def test_nonfinite_stop_is_the_default(tmp_path, monkeypatch):
    poison_train_step(get_family("vae").family_cls, monkeypatch, bad_calls={2})
    with pytest.raises(TrainingDiverged, match="loss=nan at step 2"):
        train(tiny_run("vae"), tmp_path / "run", quiet=True)


def test_max_minutes_stops_the_run_and_a_resume_takes_no_further_step(tmp_path, monkeypatch):
    import genlab.training.loop as trainer_module
    from genlab.api import train_and_publish

    clock = iter(range(0, 10**6, 7))  # every perf_counter() call moves 7 s on
    monkeypatch.setattr(trainer_module.time, "perf_counter", lambda: float(next(clock)))
    run = tiny_run("vae")
    run = RunConfig(run.family, run.model, dataclasses.replace(run.train, steps=1000, max_minutes=1.0))
    result = train_and_publish(run, tmp_path / "run", quiet=True)  # the trainer, then the card once complete
    assert result.budget_reached and 0 < result.step < 1000 and result.complete
    rows = read_metrics(tmp_path / "run")
    assert rows[-1]["stopped"] == "max_minutes" and rows[-1]["train_seconds"] >= 60
    assert (tmp_path / "run" / "card.md").exists()
    _, meta = load_checkpoint(find_checkpoint(tmp_path / "run"))
    assert meta["step"] == result.step and meta["train_seconds"] >= 60
    again = train(None, tmp_path / "run", resume=True, quiet=True)
    assert again.budget_reached and again.step == result.step


def test_max_minutes_must_be_finite_and_not_negative():
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="max_minutes"):
            TrainConfig(max_minutes=bad).check()


def test_a_run_killed_before_its_first_checkpoint_resumes_from_step_0(tmp_path, capsys):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    train(tiny_run("vae"), whole, quiet=True)
    train(tiny_run("vae"), killed, quiet=True)
    for path in (killed / "checkpoints").iterdir():  # as if killed before the first checkpoint was written
        path.unlink()
    (killed / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n{"step": 2, "lo')  # and mid-line
    (killed / "checkpoints" / ".step_00000002.safetensors.abcd1234.tmp").write_bytes(b"torn")
    result = train(None, killed, resume=True, quiet=True)
    assert "no checkpoint yet; starting it again from step 0" in capsys.readouterr().err
    assert result.step == 6 and not result.interrupted
    state_a, _ = load_checkpoint(find_checkpoint(whole))
    state_b, _ = load_checkpoint(find_checkpoint(killed))
    assert all(torch.equal(a, b) for a, b in zip(tensors_of(state_a), tensors_of(state_b), strict=True))
    assert without_timing(read_metrics(whole)) == without_timing(read_metrics(killed))
    assert not list((killed / "checkpoints").glob(".*.tmp"))


def test_the_step_clock_counts_training_steps_but_not_evaluations(tmp_path):
    import time

    from genlab.training import StepClock

    clock, seen = StepClock(), []

    def slow_evaluate(images, labels):  # an evaluation that takes 0.3 s must not count as training
        seen.append((clock.wall, clock.cpu))
        time.sleep(0.3)
        return {"fid": 1.0}

    result = train(
        tiny_run("vae", eval_every=2, eval_samples=8),
        tmp_path / "run",
        quiet=True,
        evaluate=slow_evaluate,
        clock=clock,
    )
    assert len(seen) == 3 and 0 < seen[0][0] < seen[1][0] < seen[2][0] == clock.wall
    assert seen[0][1] < seen[2][1] == clock.cpu
    assert clock.wall < result.wall_seconds - 0.9  # the three sleeps (and sampling, grids, checkpoints) are outside
