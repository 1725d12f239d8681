"""``exclude_classes``: training on all classes but some, for anomaly detection (the test split stays whole)."""

import numpy as np
import pytest
import torch

from genlab.cli import main
from genlab.config import TrainConfig, apply_overrides
from genlab.errors import ConfigError
from genlab.models.registry import get_family
from genlab.models.vae import VAE
from genlab.runs import RunConfig
from genlab.runs.rundir import read_config
from genlab.training import train
from genlab.training.trainer import drop_classes


def test_drop_classes_keeps_the_other_images_in_order():
    images = np.arange(6, dtype=np.uint8).reshape(6, 1, 1, 1)
    labels = np.array([0, 3, 1, 3, 2, 0])
    kept, kept_labels = drop_classes(images, labels, (3,), "toy")
    assert kept.ravel().tolist() == [0, 2, 4, 5] and kept_labels.tolist() == [0, 1, 2, 0]
    assert drop_classes(images, labels, (), "toy")[0] is images


@pytest.mark.parametrize(("classes", "words"), [((7,), "[7] not in toy"), ((0, 1, 2, 3), "removes every class")])
def test_drop_classes_refuses_missing_classes_and_emptying_the_data(classes, words):
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        drop_classes(np.zeros((4, 1, 1, 1), np.uint8), np.array([0, 1, 2, 3]), classes, "toy")


@pytest.mark.parametrize(("text", "value"), [("3", (3,)), ("3,5", (3, 5)), ("[3, 5]", (3, 5)), ("", ())])
def test_set_exclude_classes(text, value):
    (tc,) = apply_overrides([TrainConfig()], {"exclude_classes": text})
    assert tc.exclude_classes == value
    tc.check()


@pytest.mark.parametrize("classes", [(-1,), (3, 3)])
def test_check_refuses_negative_or_repeated_classes(classes):
    with pytest.raises(ConfigError, match="exclude_classes"):
        TrainConfig(exclude_classes=classes).check()


def test_training_batches_lack_the_class_and_the_test_split_keeps_it(tmp_path, monkeypatch):
    seen: dict[str, list[torch.Tensor]] = {"train": [], "test": []}
    train_step, evaluate = VAE.train_step, VAE.evaluate

    def recording_train_step(self, images, labels, generator):
        seen["train"].append(labels)
        return train_step(self, images, labels, generator)

    def recording_evaluate(self, images, labels):
        seen["test"].append(labels)
        return evaluate(self, images, labels)

    monkeypatch.setattr(VAE, "train_step", recording_train_step)
    monkeypatch.setattr(VAE, "evaluate", recording_evaluate)
    spec = get_family("vae")
    tc = TrainConfig(steps=8, batch_size=32, grid_size=4, eval_batch_size=5000, exclude_classes=(3,))
    train(RunConfig("vae", spec.config_cls(**spec.tiny), tc), tmp_path / "run", quiet=True)
    trained = torch.cat(seen["train"])
    assert len(trained) == 8 * 32 and 3 not in trained.tolist() and set(trained.tolist()) == set(range(10)) - {3}
    tested = torch.cat(seen["test"])
    assert len(tested) == 10_000 and (tested == 3).sum() == 1010  # MNIST test holds 1010 threes
    assert read_config(tmp_path / "run").train.exclude_classes == (3,)  # saved in config.yaml, read back as a tuple


def test_cli_saves_exclude_classes_in_the_run_config(tmp_path):
    run_dir = tmp_path / "run"
    argv = [
        "train",
        "vae",
        "--steps",
        "1",
        "--batch-size",
        "8",
        "--set",
        "hidden=4",
        "--set",
        "latent_dim=2",
        "--set",
        "exclude_classes=1,7",
        "--out",
        str(run_dir),
        "--quiet",
    ]
    assert main(argv) == 0
    assert "exclude_classes:\n  - 1\n  - 7\n" in (run_dir / "config.yaml").read_text()
    assert read_config(run_dir).train.exclude_classes == (1, 7)


@pytest.mark.parametrize(
    ("value", "words"),
    [("10", "[10] not in mnist"), ("0,1,2,3,4,5,6,7,8,9", "removes every class"), ("-2", ">= 0"), ("x", "integer")],
)
def test_bad_exclude_classes_from_the_command_line(tmp_path, capsys, value, words):
    code = main(["train", "vae", "--steps", "1", "--set", f"exclude_classes={value}", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("genlab: error:") and words in err[0], err
    assert not (tmp_path / "run").exists()
