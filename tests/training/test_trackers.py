"""The TensorBoard tracker: what metrics.jsonl holds, read back with TensorBoard's own reader; resume and rollback."""

import math

import pytest

pytest.importorskip("tensorboard", reason="the [track] extra (scripts/setup.sh installs it)")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402

from genlab.config import TrainConfig  # noqa: E402
from genlab.errors import ConfigError  # noqa: E402
from genlab.models.registry import get_family  # noqa: E402
from genlab.runs import RunConfig, read_metrics  # noqa: E402
from genlab.training import train  # noqa: E402
from genlab.training.trackers import check_tracker, scalar_tag, scalars_of  # noqa: E402


def tiny_vae(**train_overrides) -> RunConfig:
    fields = dict(steps=6, batch_size=16, log_every=2, sample_every=3, checkpoint_every=2, grid_size=4)
    spec = get_family("vae")
    return RunConfig("vae", spec.config_cls(**spec.tiny), TrainConfig(**{**fields, **train_overrides}))


def events(run_dir) -> EventAccumulator:
    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def steps_of(acc: EventAccumulator, tag: str) -> list[int]:
    return [e.step for e in acc.Scalars(tag)]


def test_every_logged_number_is_in_the_event_files_at_its_step(tmp_path):
    run_dir = tmp_path / "run"
    train(tiny_vae(tracker="tensorboard"), run_dir, quiet=True)
    acc = events(run_dir)
    records = read_metrics(run_dir)
    compared = 0
    for record in records:
        for tag, value in scalars_of(record).items():
            logged = {e.step: e.value for e in acc.Scalars(tag)}
            assert math.isclose(logged[record["step"]], value, rel_tol=1e-6, abs_tol=1e-6), (tag, record["step"])
            compared += 1
    tags = acc.Tags()["scalars"]
    # losses, the learning rate, step time, held-out metrics: the kinds the issue names
    assert {"train/loss", "lr/adam", "train/step_s", "train/images_per_s", "test/loss"} <= set(tags), tags
    assert compared >= 3 * 8
    assert steps_of(acc, "train/loss") == [2, 4, 6]
    assert [e.step for e in acc.Images("samples")] == [3, 6]  # one grid per sample_every
    # the config as hyper-parameters (TensorBoard's HParams plugin) and as text
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["train.batch_size"].number_value == 16 and hparams["family"].string_value == "vae"
    assert "config/text_summary" in acc.Tags()["tensors"]


def test_a_resume_continues_the_step_axis_without_duplicates(tmp_path):
    """A crash after step 10 was logged but before its checkpoint: the resume trains 9 and 10 again,
    and TensorBoard's reader shows each step once (the purge marker of the appended event file)."""
    run_dir = tmp_path / "run"
    cfg = tiny_vae(tracker="tensorboard", steps=10, log_every=1, checkpoint_every=4, sample_every=5)
    train(cfg, run_dir, quiet=True)
    before = {e.step: e.value for e in events(run_dir).Scalars("train/loss")}
    assert sorted(before) == list(range(1, 11))
    for suffix in (".json", ".safetensors"):
        (run_dir / "checkpoints" / f"step_00000010{suffix}").unlink()
    result = train(None, run_dir, resume=True, quiet=True)
    assert result.step == 10
    assert len(list((run_dir / "tensorboard").glob("events.out.tfevents.*"))) == 2  # same folder, appended
    acc = events(run_dir)
    for tag in ("train/loss", "train/recon", "lr/adam"):
        assert steps_of(acc, tag) == list(range(1, 11)), tag
    assert [e.step for e in acc.Images("samples")] == [5, 10]
    after = {e.step: e.value for e in acc.Scalars("train/loss")}
    jsonl = {r["step"]: r["loss"] for r in read_metrics(run_dir) if "loss" in r}
    assert after == pytest.approx(jsonl, rel=1e-6) and after == pytest.approx(before, rel=1e-6)  # seeded: same


def test_tag_names_and_what_is_not_a_scalar():
    assert scalar_tag("eval_fid") == "eval/fid" and scalar_tag("test_kl") == "test/kl"
    assert scalar_tag("lr_generator") == "lr/generator" and scalar_tag("loss_d") == "train/loss_d"
    record = {"step": 3, "eval_fid": 12.5, "eval_extractor": "digits", "eval_class_histogram": [1, 2], "flag": True}
    assert scalars_of(record) == {"eval/fid": 12.5}


def test_an_unknown_tracker_is_a_config_error():
    with pytest.raises(ConfigError, match="tracker must be one of"):
        check_tracker("wandb")
