import json

import pytest
import torch

from genlab.errors import CheckpointError
from genlab.runs.checkpoint import (
    flatten_state,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
    step_checkpoints,
    unflatten_state,
)


def nested():
    return {
        "nets": {"g": {"w": torch.arange(6.0).view(2, 3), "b": torch.tensor(1.5)}},
        "opt": {
            "state": {0: {"step": torch.tensor(3.0)}, 1: {}},
            "param_groups": [{"lr": 1e-3, "betas": (0.5, 0.999), "params": [0, 1]}],
        },
        "rng": torch.get_rng_state(),
        "misc": [None, True, "x", 2],
    }


def assert_same(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for u, v in zip(a, b):
            assert_same(u, v)
    else:
        assert a == b


def test_flatten_round_trip_keeps_int_keys_tuples_and_dtypes():
    skeleton, tensors = flatten_state(nested())
    json.dumps(skeleton)  # the skeleton is plain JSON
    assert_same(unflatten_state(json.loads(json.dumps(skeleton)), tensors), nested())


def test_save_and_load(tmp_path):
    save_checkpoint(tmp_path / "step_00000001", nested(), {"step": 1})
    state, meta = load_checkpoint(tmp_path / "step_00000001.json")
    assert meta["step"] == 1
    assert_same(state, nested())


def test_unsupported_values_are_refused():
    with pytest.raises(TypeError, match="object"):
        flatten_state({"x": object()})


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda p: p.with_suffix(".safetensors").write_bytes(p.with_suffix(".safetensors").read_bytes()[:-10]),
            "corrupt",
        ),
        (lambda p: p.with_suffix(".safetensors").unlink(), "missing"),
        (lambda p: p.write_text("{not json"), "corrupt"),
        (lambda p: p.write_text(json.dumps({"format": "other"})), "not a genlab checkpoint"),
        (lambda p: p.unlink(), "does not exist"),
    ],
)
def test_damaged_checkpoints_raise_checkpoint_error(tmp_path, damage, message):
    path = save_checkpoint(tmp_path / "step_00000001", nested(), {"step": 1})
    damage(path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_prune_keeps_the_newest(tmp_path):
    for step in (1, 2, 3, 4, 5):
        save_checkpoint(tmp_path / f"step_{step:08d}", {"x": torch.zeros(1)}, {"step": step})
    prune_checkpoints(tmp_path, keep_last=2)
    assert [s for s, _ in step_checkpoints(tmp_path)] == [4, 5]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"step_{s:08d}.{e}" for s in (4, 5) for e in ("json", "safetensors")
    ]
