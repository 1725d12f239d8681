"""`genlab detect train|eval|score` as a user types it, on tiny .npz files."""

import json

import numpy as np
import pytest
from cli_helpers import one_line_error, run

from genlab.cli import main
from genlab.data import load_dataset, save_png, save_samples

# The module fixture trains a spectral detector and test_eval_json_with_attacks asserts its AUC: every test here runs
# with the pinned threads (tests/conftest.py), so whichever builds the fixture does. On the similar sets of
# tests/detect/test_detectors.py the spectral detector's AUC on checkerboard fakes was 1.000 for training seeds 0..19
# with 1 and 2 threads, far above the bound 0.9.
pytestmark = pytest.mark.trains


def checkerboard(images: np.ndarray) -> np.ndarray:
    """2 x 2 block means repeated (nearest-neighbour up-sampling), as in tests/detect/conftest.py. Shapes: (N, 1, 28,
    28) -> same."""
    n, c, h, w = images.shape
    means = images.reshape(n, c, h // 2, 2, w // 2, 2).astype(np.float64).mean(axis=(3, 5))
    return np.round(means).astype(np.uint8).repeat(2, axis=2).repeat(2, axis=3)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("detect")
    train, _, _ = load_dataset("mnist", "train")
    test, _, _ = load_dataset("mnist", "test")
    paths = {
        "real": folder / "real.npz",
        "fake": folder / "fake.npz",
        "fake_test": folder / "fake_test.npz",
        "folder": folder,
    }
    save_samples(paths["real"], train[:300])
    save_samples(paths["fake"], checkerboard(train[300:600]))
    save_samples(paths["fake_test"], checkerboard(test[200:400]))
    return paths


@pytest.fixture(scope="module")
def detector(files):
    out = files["folder"] / "spectral"
    assert (
        main(
            [
                "detect",
                "train",
                "--real",
                str(files["real"]),
                "--fake",
                str(files["fake"]),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    return out


def test_train_writes_safetensors_and_json(detector, files):
    meta = json.loads((detector / "detector.json").read_text())
    assert sorted(p.name for p in detector.iterdir()) == ["detector.json", "detector.safetensors"]
    assert meta["kind"] == "spectral" and meta["image_shape"] == [1, 28, 28] and meta["threshold_fpr"] == 0.01
    assert meta["trained_on"] == {"real": str(files["real"]), "fake": [str(files["fake"])]}
    assert (
        meta["n_real_fit"] + meta["n_real_holdout"] == 300
        and meta["n_fake"] == 300
        and "scikit-learn" in meta["versions"]
    )


def test_eval_json_with_attacks(detector, files, capsys):
    code, out, _ = run(
        capsys,
        "detect",
        "eval",
        detector,
        "--real",
        "mnist-test",
        "-n",
        "200",
        "--fake",
        files["fake_test"],
        "--attack",
        "none",
        "--attack",
        "jpeg90",
        "--resamples",
        "50",
        "--json",
    )
    result = json.loads(out)
    assert code == 0 and [r["attack"] for r in result["results"]] == ["none", "jpeg90"]
    clean = result["results"][0]
    assert clean["auc"]["value"] > 0.9 and clean["auc"]["low"] <= clean["auc"]["value"] <= clean["auc"]["high"]
    assert clean["n_real"] == 200 and clean["n_fake"] == 200


def test_eval_table(detector, files, capsys):
    code, out, _ = run(
        capsys, "detect", "eval", detector, "-n", "100", "--fake", files["fake_test"], "--resamples", "20"
    )
    assert code == 0 and "AUC" in out and "TPR" in out and "bootstrap" in out


def test_cnn_train_and_score_npz(files, capsys, tmp_path):
    out = tmp_path / "cnn"
    code, text, _ = run(
        capsys,
        "detect",
        "train",
        "--kind",
        "cnn",
        "--set",
        "epochs=1",
        "--real",
        files["real"],
        "--fake",
        files["fake"],
        "--out",
        out,
        "--seed",
        "2",
    )
    assert code == 0 and "cnn detector" in text
    code, text, _ = run(capsys, "detect", "score", out, files["fake_test"], "--json")
    rows = json.loads(text)
    assert code == 0 and len(rows) == 200 and all(0.0 <= r["p_generated"] <= 1.0 for r in rows)


def test_score_png_files(detector, files, capsys, tmp_path):
    test, _, _ = load_dataset("mnist", "test")
    paths = [tmp_path / "real.png", tmp_path / "fake.png"]
    save_png(paths[0], test[0, 0], watermark=None)  # unmarked, like a picture a user wants checked
    save_png(paths[1], checkerboard(test[1:2])[0, 0], watermark=None)
    code, text, _ = run(capsys, "detect", "score", detector, *paths, "--json")
    rows = json.loads(text)
    assert code == 0 and [r["image"] for r in rows] == [str(p) for p in paths]
    npz_rows = json.loads(run(capsys, "detect", "score", detector, files["fake_test"], "--json")[1])
    assert rows[1]["p_generated"] > rows[0]["p_generated"] and len(npz_rows) == 200


@pytest.mark.parametrize(
    "argv, words",
    [
        (["detect", "train", "--kind", "svm", "--fake", "x.npz", "--out", "d"], ["svm", "spectral, cnn"]),
        (["detect", "train", "--fake", "missing.npz", "--out", "d"], ["missing.npz", "does not exist"]),
        (["detect", "train", "--fake", "x.png", "--out", "d"], ["samples .npz"]),
        (["detect", "eval", "nowhere", "--fake", "x.npz"], ["no detector at nowhere"]),
        (["detect", "score", "nowhere", "x.npz"], ["no detector"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    one_line_error(code, err, *words)


def test_bad_attack_size_and_setting(detector, files, capsys, tmp_path):
    one_line_error(
        *run(capsys, "detect", "eval", detector, "--fake", files["fake_test"], "--attack", "sharpen")[::2],
        "unknown attack",
        "jpeg70",
    )
    one_line_error(
        *run(capsys, "detect", "eval", detector, "--fake", files["fake_test"], "--attack", "jpeg0")[::2], "1..95"
    )
    small = tmp_path / "small.npz"
    save_samples(small, np.zeros((3, 14, 14), np.uint8))
    one_line_error(*run(capsys, "detect", "score", detector, small)[::2], "(1, 14, 14)", "(1, 28, 28)")
    one_line_error(*run(capsys, "detect", "eval", detector, "--fake", small)[::2], "trained on")
    one_line_error(
        *run(
            capsys,
            "detect",
            "train",
            "--fake",
            files["fake"],
            "--real",
            files["real"],
            "--out",
            tmp_path / "x",
            "--set",
            "depth=2",
        )[::2],
        "depth",
    )
