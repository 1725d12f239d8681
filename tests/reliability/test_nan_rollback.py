"""``nonfinite=rollback``: back to the last good checkpoint with a lower lr, or a clear stop."""

import math

import pytest
import torch
from cli_helpers import one_line_error, run
from reliability.helpers import same_tensors, tiny_run, without_timing

from genlab.config import TrainConfig
from genlab.errors import ConfigError
from genlab.runs import read_metrics
from genlab.runs.checkpoint import load_checkpoint, save_checkpoint
from genlab.runs.rundir import find_checkpoint
from genlab.training import train
from genlab.training.faults import TrainingDiverged, scale_learning_rates

LR = 1e-3  # the tiny VAE's lr (VAEConfig default)


def lrs_of(state):
    """Every optimiser's learning rates in a family state dict, by optimiser name."""
    return {name: [g["lr"] for g in opt["param_groups"]] for name, opt in state["opts"].items()}


def test_scale_learning_rates_multiplies_every_group():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))
    opts = {
        "g": torch.optim.Adam([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.02}]),
        "d": torch.optim.SGD([b], lr=1.0),
    }
    assert scale_learning_rates(opts, 0.5) == {"g": [0.05, 0.01], "d": [0.5]}
    assert [g["lr"] for g in opts["g"].param_groups] == [0.05, 0.01]
    scale_learning_rates(opts, 0.5)
    assert [g["lr_scale"] for g in opts["g"].param_groups] == [0.25, 0.25] and opts["d"].param_groups[0][
        "lr_scale"
    ] == 0.25


def test_rollback_equals_a_resume_from_the_checkpoint_with_half_the_lr(tmp_path, poison):
    """Calls 5 and 6 blow up (patience 2): the run goes back to its step-4 checkpoint with lr / 2
    and trains the same batches again, bit for bit like a resume from that checkpoint at lr / 2."""
    poison("vae", {5, 6})
    rolled = tmp_path / "rolled"
    result = train(tiny_run("vae", nonfinite="rollback", nonfinite_patience=2), rolled, quiet=True)
    assert result.step == 8 and not result.interrupted
    records = read_metrics(rolled)
    rollbacks = [r for r in records if "rollback" in r]
    assert rollbacks == [
        {"step": 4, "rollback": 1, "from_step": 5, "reason": "loss=nan", "lr_factor": 0.5, "lr": {"adam": [LR * 0.5]}}
    ]
    assert [r["step"] for r in records if "loss" in r] == [2, 4, 6, 8]  # the undone steps 5-6 were logged again, once
    state, meta = load_checkpoint(find_checkpoint(rolled))
    assert lrs_of(state["family"]) == {"adam": [LR * 0.5]} and meta["rollbacks"] == 1 and meta["nonfinite_total"] == 2

    # The same by hand: stop at step 4, halve the lr in the checkpoint, resume (no NaN there: calls 9+).
    by_hand = tmp_path / "by-hand"
    train(tiny_run("vae"), by_hand, quiet=True, stop_at=4)
    ckpt = find_checkpoint(by_hand)
    state4, meta4 = load_checkpoint(ckpt)
    for group in state4["family"]["opts"]["adam"]["param_groups"]:
        group["lr"] *= 0.5
    save_checkpoint(
        ckpt.with_suffix(""), state4, {k: v for k, v in meta4.items() if k not in ("format", "tensors", "sha256")}
    )
    train(None, by_hand, resume=True, quiet=True)
    assert same_tensors(state, load_checkpoint(find_checkpoint(by_hand))[0])


def test_the_lowered_lr_survives_a_resume_bit_for_bit(tmp_path, poison):
    """An unbroken run with a rollback equals one stopped after the rollback and resumed:
    the halved lr comes back from the optimiser state in the checkpoint."""
    # Calls are counted over the test: the unbroken run makes calls 1-10 (5, 6 bad, then
    # steps 5-8 again); the split run's steps 5, 6 are its calls 15, 16.
    poison("vae", {5, 6, 15, 16})
    cfg = tiny_run("vae", nonfinite="rollback", nonfinite_patience=2)
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(cfg, whole, quiet=True)
    first = train(cfg, split, quiet=True, stop_at=6)
    assert first.interrupted and first.step == 6
    state6, meta6 = load_checkpoint(find_checkpoint(split))
    assert lrs_of(state6["family"]) == {"adam": [LR * 0.5]} and meta6["rollbacks"] == 1
    train(None, split, resume=True, quiet=True)
    state_a, meta_a = load_checkpoint(find_checkpoint(whole))
    state_b, meta_b = load_checkpoint(find_checkpoint(split))
    assert meta_a["step"] == meta_b["step"] == 8 and meta_a["sha256"] == meta_b["sha256"]
    assert same_tensors(state_a, state_b) and lrs_of(state_b["family"]) == {"adam": [LR * 0.5]}
    assert without_timing(read_metrics(whole)) == without_timing(read_metrics(split))


def test_a_gans_lr_schedule_keeps_the_rollbacks_factor(tmp_path, poison):
    """The GANs set lr = base * (1 - step / lr_decay_steps) every step; after a rollback that
    rate is halved for the rest of the run (lr_scale in the optimiser state), not for one step."""
    poison("gan", {5, 6})
    cfg = tiny_run("gan", nonfinite="rollback", nonfinite_patience=2, model={"lr_decay_steps": 100})
    train(cfg, tmp_path / "run", quiet=True)
    state, _ = load_checkpoint(find_checkpoint(tmp_path / "run"))
    base = cfg.model.lr
    # Step 8 was trained with the rate set at its start: base * (1 - 7 / 100), halved by the rollback.
    want = base * (1 - 7 / 100) * 0.5
    for name in ("generator", "discriminator"):
        (lr,) = lrs_of(state["family"])[name]
        assert math.isclose(lr, want, rel_tol=1e-12), (name, lr, want)
        assert state["family"]["opts"][name]["param_groups"][0]["lr_scale"] == 0.5


def test_rollback_gives_up_after_max_rollbacks(tmp_path, poison):
    poison("vae", set(range(3, 1000)))
    cfg = tiny_run("vae", nonfinite="rollback", nonfinite_patience=2, max_rollbacks=2)
    with pytest.raises(TrainingDiverged, match=r"2 non-finite steps in a row .* and 2 rollback\(s\) with a lower lr"):
        train(cfg, tmp_path / "run", quiet=True)
    rollbacks = [r for r in read_metrics(tmp_path / "run") if "rollback" in r]
    assert [(r["step"], r["rollback"], r["lr"]["adam"]) for r in rollbacks] == [
        (2, 1, [LR * 0.5]),
        (2, 2, [LR * 0.25]),
    ]


def test_rollback_without_a_checkpoint_yet_is_a_clear_stop(tmp_path, poison):
    poison("vae", {1, 2})
    with pytest.raises(TrainingDiverged, match="no checkpoint to roll back to"):
        train(tiny_run("vae", nonfinite="rollback", nonfinite_patience=2), tmp_path / "run", quiet=True)


@pytest.mark.parametrize(
    "field, value",
    [
        ("rollback_lr_factor", 0.0),
        ("rollback_lr_factor", 1.0),
        ("rollback_lr_factor", -0.5),
        ("rollback_lr_factor", math.nan),
        ("max_rollbacks", 0),
    ],
)
def test_rollback_settings_are_validated(field, value):
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value}).check()


def test_rollback_needs_torch_optimisers(tmp_path):
    with pytest.raises(ConfigError, match="numpy-gan has none"):
        train(tiny_run("numpy-gan", nonfinite="rollback"), tmp_path / "run", quiet=True)


def test_cli_rejects_a_bad_rollback_factor_in_one_line(tmp_path, capsys):
    code, _, err = run(
        capsys,
        "train",
        "vae",
        "--steps",
        "2",
        "--out",
        tmp_path / "run",
        "--set",
        "nonfinite=rollback",
        "--set",
        "rollback_lr_factor=2",
    )
    one_line_error(code, err, "rollback_lr_factor", "between 0 and 1")
    code, _, err = run(capsys, "train", "vae", "--steps", "2", "--out", tmp_path / "run", "--set", "nonfinite=undo")
    one_line_error(code, err, "nonfinite", "stop, skip, rollback")
