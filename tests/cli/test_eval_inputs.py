"""`genlab eval A --ref B` with every kind of input on either side, statistics, PNG samples, and bad input."""

import json

import numpy as np
import pytest
import torch
from cli_helpers import one_line_error, run
from safetensors.torch import save_file

from genlab.cli import main
from genlab.data import load_dataset, save_samples
from genlab.eval.inception import FIDInceptionV3
from genlab.eval.inputs import images_of, write_image_folder


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same 200 MNIST digits as a PNG folder, .npz (channels first and last) and .npy; a tiny run."""
    root = tmp_path_factory.mktemp("inputs")
    images, labels, _ = load_dataset("mnist", "train")
    a, b = images[:200], images[200:400]  # (200, 1, 28, 28)
    write_image_folder(root / "folder", a)
    save_samples(root / "first.npz", b, labels[200:400])
    np.savez(root / "last.npz", images=np.repeat(b, 3, axis=1).transpose(0, 2, 3, 1))  # RGB channels-last
    np.save(root / "b.npy", b[:, 0])
    run_dir = root / "gan"
    argv = ["train", "gan", "--steps", "2", "--set", "hidden=8", "--set", "z_dim=4", "--out", str(run_dir), "--quiet"]
    assert main(argv) == 0
    return root, run_dir


def score(capsys, *argv):
    code, out, err = run(capsys, "eval", *argv, "--json", "--extractor", "digits")
    assert code == 0, err
    return json.loads(out), err


@pytest.mark.parametrize("ref", ["first.npz", "last.npz", "b.npy", "mnist-test", "folder"])
def test_every_reference_kind(files, capsys, ref):
    root, _ = files
    result, _ = score(capsys, root / "folder", "--ref", ref if ref == "mnist-test" else root / ref)
    assert result["n"] == 200 and result["what"].startswith("folder") and result["modes_covered"] == 10
    assert result["fid"] < (1e-6 if ref == "folder" else 10)  # the same digits, or other real digits


def test_channels_last_equals_channels_first(files, capsys):
    root, _ = files
    first, _ = score(capsys, root / "first.npz", "--ref", root / "folder")
    last, _ = score(capsys, root / "last.npz", "--ref", root / "folder")  # RGB: luma of R = G = B is the grey
    assert last["fid"] == pytest.approx(first["fid"], rel=1e-12)


def test_runs_on_either_side_and_statistics(files, capsys, tmp_path):
    root, run_dir = files
    sampled, _ = score(capsys, run_dir, "--ref", root / "folder", "-n", "150")
    assert sampled["n"] == 150 and "gan run" in sampled["what"]
    as_ref, _ = score(capsys, root / "folder", "--ref", run_dir)
    assert "gan run" in as_ref["reference"]
    stats = tmp_path / "ref.npz"
    code, _, err = run(capsys, "eval", "stats", root / "first.npz", "-o", stats, "--extractor", "digits")
    assert code == 0 and err == ""
    by_stats, _ = score(capsys, root / "folder", "--ref", stats)
    by_images, _ = score(capsys, root / "folder", "--ref", root / "first.npz")
    assert by_stats["fid"] == pytest.approx(by_images["fid"], rel=1e-9) and "kid" not in by_stats
    code, out, _ = run(capsys, "eval", stats, "--ref", root / "folder", "--json")  # statistics as A
    assert code == 0 and json.loads(out)["fid"] == pytest.approx(by_images["fid"], rel=1e-9)


def test_few_images_are_flagged(files, capsys):
    root, _ = files
    result, err = score(capsys, root / "folder", "--ref", root / "b.npy", "-n", "100")
    assert "fid_warning" in result and "use at least 129 images" in err and err.startswith("warning:")


def test_sample_png_folder_is_the_npz_pixels(files, capsys, tmp_path):
    _, run_dir = files
    assert run(capsys, "sample", run_dir, "-n", "5", "-o", tmp_path / "s.npz", "--seed", "3")[0] == 0
    code, out, err = run(
        capsys, "sample", run_dir, "-n", "5", "--format", "png", "-o", tmp_path / "png", "--seed", "3"
    )
    assert code == 0, err
    expected = np.load(tmp_path / "s.npz")["images"]  # grey: (5, 28, 28)
    assert sorted(p.name for p in (tmp_path / "png").iterdir())[0] == "000000.png"
    assert np.array_equal(images_of(tmp_path / "png")[:, 0], expected)
    one_line_error(*run(capsys, "sample", run_dir, "--format", "png", "-o", tmp_path / "png")[::2], "empty folder")
    one_line_error(*run(capsys, "sample", run_dir, "--format", "gif")[::2], "--format")


def weights_file(tmp_path, name, change):
    state = {k: v.contiguous() for k, v in FIDInceptionV3().state_dict().items()}
    change(state)
    save_file(state, str(tmp_path / name))
    return tmp_path / name


def test_bad_input_is_one_line(files, capsys, tmp_path, monkeypatch):
    root, _ = files
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    (tmp_path / "empty").mkdir()
    rgb32 = tmp_path / "rgb32.npy"
    np.save(rgb32, np.zeros((10, 32, 32, 3), np.uint8))
    folder = root / "folder"
    cases = [
        (("eval", tmp_path / "empty", "--ref", folder), "no PNG or JPEG images"),
        (("eval", rgb32), "give the reference with --ref"),
        (("eval", folder, "--ref", "nowhere"), "does not exist"),
        (("eval", folder, "--resize", "nearest"), "unknown resize rule"),
        (("eval", folder, "--dims", "64"), "inception extractor only"),
        (("eval", folder, "--extractor", "inception"), "fetch-weights"),
        (("eval", "stats", folder, "-o", tmp_path / "x.txt"), ".npz"),
        (("eval", "fetch-weights", "--url", "http://127.0.0.1:9/w.pth"), "--from FILE"),
        (("eval", "fetch-weights", "--from", tmp_path / "missing.pth"), "not found"),
    ]
    wrong = weights_file(tmp_path, "wrong.safetensors", lambda s: s.update({"fc.bias": torch.zeros(1000)}))
    nan = weights_file(tmp_path, "nan.safetensors", lambda s: s["fc.bias"].fill_(float("nan")))
    for path, words in ((wrong, "wrong shape"), (nan, "NaN or infinite")):
        cases.append((("eval", rgb32, "--ref", rgb32, "--extractor", "inception", "--extractor-weights", path), words))
    stats = tmp_path / "s.npz"
    np.savez(stats, mu=np.zeros(128), sigma=np.eye(128))
    cases.append((("eval", stats), "--ref B"))
    for argv, words in cases:
        one_line_error(*run(capsys, *argv)[::2], words)
