"""`genlab anomaly fit` and `genlab anomaly score`, as a user types them, at tiny size."""

import json

import numpy as np
import pytest

from genlab.cli import main
from genlab.data import load_dataset, save_png, save_samples

TINY = ["--set", "hidden=8", "--set", "latent_dim=2"]


@pytest.fixture(scope="module")
def holdout_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("anomaly") / "run"
    argv = [
        "anomaly",
        "fit",
        "--holdout",
        "3",
        "--steps",
        "2",
        "--batch-size",
        "16",
        "--out",
        str(run_dir),
        "--quiet",
        *TINY,
        "--set",
        "binarize=dynamic",
    ]
    assert main(argv) == 0
    return run_dir


def score_json(run_dir, capsys, *extra):
    assert main(["anomaly", "score", str(run_dir), "-n", "300", "--k", "2", "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def one_error_line(capsys, code):
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("genlab: error:"), err
    return err[0]


def test_fit_trains_without_the_held_out_digit(holdout_run):
    assert "exclude_classes:\n  - 3\n" in (holdout_run / "config.yaml").read_text()
    assert (holdout_run / "card.md").is_file()


def test_score_prints_auroc_ap_and_the_per_class_table(holdout_run, capsys):
    assert main(["anomaly", "score", str(holdout_run), "-n", "300", "--k", "2"]) == 0
    text = capsys.readouterr().out
    for words in (
        "AUROC",
        "AP",
        "-ELBO",
        "recon error",
        "held-out class [3]",
        "binarised once with seed 0",
        "k = 2",
        "3 *",
        "mean score per class",
    ):
        assert words in text, words


def test_score_json_holds_detection_for_both_scores(holdout_run, capsys):
    result = score_json(holdout_run, capsys)
    assert result["excluded_classes"] == [3] and result["k"] == 2 and result["binarize_seed"] == 0
    assert result["images"].startswith("300 images of mnist test")
    for name in ("nelbo", "recon"):
        assert 0 <= result["detection"][name]["auroc"] <= 1 and 0 < result["detection"][name]["average_precision"] <= 1
        assert sorted(result["class_means"][name], key=int) == [str(c) for c in range(10)]
    assert sum(count for count, _ in result["class_means"]["nelbo"].values()) == 300


def test_score_is_reproducible_and_the_seed_moves_only_the_sampled_score(holdout_run, capsys):
    a, b, c = (
        score_json(holdout_run, capsys),
        score_json(holdout_run, capsys),
        score_json(holdout_run, capsys, "--seed", "1"),
    )
    assert a == b
    assert a["mean"]["nelbo"] != c["mean"]["nelbo"] and a["mean"]["recon"] == c["mean"]["recon"]


def test_score_writes_per_image_scores(holdout_run, tmp_path, capsys):
    path = tmp_path / "scores.npz"
    result = score_json(holdout_run, capsys, "--out", str(path))
    with np.load(path) as npz:
        assert sorted(npz.files) == ["labels", "nelbo", "recon"] and npz["nelbo"].shape == (300,)
        _, test_labels, _ = load_dataset("mnist", "test")
        np.testing.assert_array_equal(npz["labels"], test_labels[:300])
        assert npz["nelbo"].mean() == pytest.approx(result["mean"]["nelbo"])
        auroc_by_hand = np.mean(
            [
                (p > q) + 0.5 * (p == q)
                for p in npz["nelbo"][npz["labels"] == 3]
                for q in npz["nelbo"][npz["labels"] != 3]
            ]
        )
        assert result["detection"]["nelbo"]["auroc"] == pytest.approx(auroc_by_hand)


def test_score_images_from_a_labelled_npz_and_from_pngs(holdout_run, tmp_path, capsys):
    images, labels, _ = load_dataset("mnist", "test")
    save_samples(tmp_path / "mine.npz", images[:40], labels[:40])
    from_npz = score_json(holdout_run, capsys, "--images", str(tmp_path / "mine.npz"))
    assert from_npz["images"].startswith("40 images of") and "detection" in from_npz
    for i in range(3):
        save_png(tmp_path / "pngs" / f"{i}.png", images[i, 0], watermark=None)
    from_png = score_json(holdout_run, capsys, "--images", str(tmp_path / "pngs"))
    assert (
        from_png["images"].startswith("3 images of") and "detection" not in from_png and "class_means" not in from_png
    )


def test_a_run_without_a_held_out_class_has_no_auroc(tmp_path, capsys):
    run_dir = tmp_path / "plain"
    assert main(["train", "vae", "--steps", "1", "--batch-size", "8", "--out", str(run_dir), "--quiet", *TINY]) == 0
    assert main(["anomaly", "score", str(run_dir), "-n", "50", "--k", "1"]) == 0
    text = capsys.readouterr().out
    assert "excluded no class" in text and "AUROC" not in text.split("excluded no class")[0]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--holdout", "10"], "[10] not in mnist"),
        (["--holdout", "3", "--family", "cvae"], "unconditional VAE"),
        (["--holdout", "3", "--set", "exclude_classes=1"], "from --holdout"),
        (["--holdout", "3", "--preset", "huge"], "no preset"),
    ],
)
def test_bad_fit_options(tmp_path, capsys, argv, words):
    code = main(["anomaly", "fit", "--steps", "1", "--out", str(tmp_path / "run"), *argv])
    assert words in one_error_line(capsys, code)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--k", "0"], "--k"),
        (["-n", "0"], "-n"),
        (["--out", "scores.txt"], ".npz"),
        (["--images", "nothing.npz"], "does not exist"),
    ],
)
def test_bad_score_options(holdout_run, capsys, extra, words):
    assert words in one_error_line(capsys, main(["anomaly", "score", str(holdout_run), *extra]))


def test_score_refuses_images_of_another_size(holdout_run, tmp_path, capsys):
    save_samples(tmp_path / "small.npz", np.zeros((2, 8, 8), np.uint8))
    assert "28x28" in one_error_line(
        capsys, main(["anomaly", "score", str(holdout_run), "--images", str(tmp_path / "small.npz")])
    )


def test_score_refuses_a_gan_run(tmp_path, capsys):
    run_dir = tmp_path / "gan"
    assert (
        main(
            ["train", "gan", "--steps", "1", "--set", "hidden=4", "--set", "z_dim=2", "--out", str(run_dir), "--quiet"]
        )
        == 0
    )
    assert "unconditional VAE" in one_error_line(capsys, main(["anomaly", "score", str(run_dir), "--k", "1"]))


def test_fit_and_score_a_conv_vae(tmp_path, capsys):
    run_dir = tmp_path / "conv"
    argv = [
        "anomaly",
        "fit",
        "--family",
        "conv-vae",
        "--holdout",
        "1",
        "--steps",
        "1",
        "--batch-size",
        "8",
        "--out",
        str(run_dir),
        "--quiet",
    ]
    assert main([*argv, "--set", "width=4", "--set", "latent_dim=2"]) == 0
    result = score_json(run_dir, capsys)
    assert result["family"] == "conv-vae" and result["excluded_classes"] == [1] and result["binarize_seed"] is None
    assert set(result["detection"]) == {"nelbo", "recon"}


def test_images_of_the_held_out_digit_only_are_scored_without_auroc(holdout_run, tmp_path, capsys):
    images, labels, _ = load_dataset("mnist", "test")
    save_samples(tmp_path / "threes.npz", images[labels == 3][:5], labels[labels == 3][:5])
    result = score_json(holdout_run, capsys, "--images", str(tmp_path / "threes.npz"))
    assert "detection" not in result and list(result["class_means"]["nelbo"]) == ["3"]
