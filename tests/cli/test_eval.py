"""`genlab eval` as a user types it."""

import json

import numpy as np
import pytest
from cli_helpers import one_line_error, run

from genlab.cli import main
from genlab.data import load_dataset, save_samples


@pytest.fixture(scope="module")
def real_samples(tmp_path_factory):
    images, labels, _ = load_dataset("mnist", "train")
    path = tmp_path_factory.mktemp("eval") / "real.npz"
    save_samples(path, images[:300], labels[:300])
    return path


def test_eval_prints_every_metric_with_its_direction(real_samples, capsys):
    code, out, _ = run(capsys, "eval", str(real_samples), "-n", "300")
    assert code == 0
    for word in (
        "fid",
        "kid",
        "inception_score",
        "modes_covered",
        "precision",
        "recall",
        "density",
        "coverage",
        "conditional_accuracy",
        "lower",
        "higher",
    ):
        assert word in out


def test_eval_json(real_samples, capsys):
    code, out, _ = run(capsys, "eval", str(real_samples), "--json", "--extractor", "random-projection")
    result = json.loads(out)
    assert code == 0 and result["extractor"] == "random-projection" and result["n"] == 300
    assert result["conditional_accuracy"] > 0.95


def test_eval_of_a_run_directory(tmp_path, capsys):
    run_dir = tmp_path / "gan"
    assert (
        main(
            ["train", "gan", "--steps", "2", "--set", "hidden=8", "--set", "z_dim=4", "--out", str(run_dir), "--quiet"]
        )
        == 0
    )
    code, out, _ = run(capsys, "eval", str(run_dir), "-n", "50", "--json")
    assert code == 0 and json.loads(out)["n"] == 50


def test_baseline(capsys):
    code, out, _ = run(capsys, "eval", "baseline", "-n", "200", "--json")
    assert code == 0 and json.loads(out)["modes_covered"] == 10


def test_in_training_evaluation_keeps_the_best_checkpoint(tmp_path, capsys):
    run_dir = tmp_path / "vae"
    argv = [
        "train",
        "vae",
        "--steps",
        "4",
        "--set",
        "hidden=8",
        "--set",
        "latent_dim=2",
        "--set",
        "eval_every=2",
        "--set",
        "eval_samples=50",
        "--out",
        str(run_dir),
        "--quiet",
    ]
    assert main(argv) == 0
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    fids = [r["eval_fid"] for r in records if "eval_fid" in r]
    assert len(fids) == 2
    best = json.loads((run_dir / "checkpoints" / "best.json").read_text())
    assert best["best_fid"] == min(fids)
    assert (
        run(capsys, "sample", str(run_dir), "--checkpoint", "best", "-n", "3", "-o", str(tmp_path / "b.npz"))[0] == 0
    )


def test_train_extractor_smoke(tmp_path, capsys):
    code, out, _ = run(
        capsys, "eval", "train-extractor", "--steps", "2", "--out", str(tmp_path / "x.safetensors"), "--quiet"
    )
    assert code == 0 and (tmp_path / "x.safetensors").is_file() and (tmp_path / "x.json").is_file()


def bad_file(tmp_path, name, **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p / "missing.npz", ["does not exist"]),
        (lambda p: bad_file(p, "float.npz", images=np.zeros((10, 28, 28), np.float32)), ["uint8"]),
        (lambda p: bad_file(p, "shape.npz", images=np.zeros((10, 5), np.uint8)), ["shape"]),
        (lambda p: bad_file(p, "empty.npz", images=np.zeros((0, 28, 28), np.uint8)), ["no images"]),
        (lambda p: bad_file(p, "nokey.npz", x=np.zeros(3)), ["no 'images'"]),
        (
            lambda p: bad_file(p, "labels.npz", images=np.zeros((10, 28, 28), np.uint8), labels=np.zeros(3, np.int64)),
            ["labels"],
        ),
        (lambda p: bad_file(p, "few.npz", images=np.zeros((3, 28, 28), np.uint8)), []),
        (lambda p: bad_file(p, "size.npz", images=np.zeros((10, 14, 14), np.uint8)), ["reference"]),
    ],
)
def test_bad_samples_files_give_one_line_and_exit_2(tmp_path, capsys, make, words):
    one_line_error(*run(capsys, "eval", str(make(tmp_path)))[::2], *words)


def test_not_an_npz(tmp_path, capsys):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"junk")
    one_line_error(*run(capsys, "eval", str(path))[::2], "not a readable")


def test_bad_options(real_samples, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path))  # no fetched Inception weights
    one_line_error(*run(capsys, "eval", str(real_samples), "--extractor", "vgg")[::2], "unknown extractor")
    one_line_error(*run(capsys, "eval", str(real_samples), "--extractor", "inception")[::2], "--extractor-weights")
    one_line_error(*run(capsys, "eval", str(real_samples), "-n", "0")[::2], "-n")
    one_line_error(*run(capsys, "eval", str(real_samples), "--ref", "nope.npz")[::2], "does not exist")
