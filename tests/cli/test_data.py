"""`genlab data inspect/prepare` and `genlab train --data PATH`: every source trains, every bad input is one line."""

from __future__ import annotations

import json
import os
import tarfile
import zipfile

import numpy as np
import pytest
import yaml
from cli_helpers import one_line_error, run
from own_data_helpers import pictures, snapshot, write_cifar10, write_folder, write_idx_folder
from PIL import Image

from genlab.data import datasets, load_dataset
from genlab.runs import read_metrics

TINY_VAE = ("--set", "hidden=8", "--set", "latent_dim=2", "--batch-size", "8", "--steps", "1", "-q")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "cache"


def warnings_of(err: str) -> list[str]:
    lines = err.strip().splitlines()
    assert all(line.startswith("genlab: warning:") for line in lines), err
    return lines


def digits_folder(root, n=24, **kw):
    x = pictures(n, **kw)
    write_folder(root, x, np.arange(n) % 3)
    return x


def train_ok(capsys, data, *extra, family="vae", out="run"):
    code, _, err = run(capsys, "train", family, "--data", data, "--out", out, *TINY_VAE, *extra)
    assert code == 0, err
    return err


def test_inspect_reports_and_writes_a_contact_sheet_outside_the_data(capsys, tmp_path):
    x = digits_folder(tmp_path / "my data", 24)
    Image.fromarray(x[0, 0]).save(tmp_path / "my data" / "0" / "dup.png")  # the same pixels as 00000.png
    (tmp_path / "my data" / "1" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (tmp_path / "my data" / "notes.txt").write_text("not an image")
    before = snapshot(tmp_path / "my data")
    code, out, _ = run(capsys, "data", "inspect", tmp_path / "my data", "-o", tmp_path / "sheet.png", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["images"] == 26 and report["classes"] == {"0": 9, "1": 9, "2": 8} and report["ignored_files"] == 1
    assert report["duplicate_groups"] == [["0/00000.png", "0/dup.png"]]
    assert list(report["problems"]) == ["1/broken.png"] and report["sizes"] == {"28x28": 25}
    sheet = Image.open(tmp_path / "sheet.png")
    assert sheet.size == (8 * 30 + 2, 3 * 30 + 2)  # a row of 8 per class, 2 px padding
    code, out, _ = run(capsys, "data", "inspect", tmp_path / "my data")
    assert code == 0 and "duplicates" in out and "1/broken.png" in out
    assert snapshot(tmp_path / "my data") == before
    code, _, err = run(capsys, "data", "inspect", tmp_path / "my data", "-o", tmp_path / "my data" / "s.png")
    one_line_error(code, err, "never writes beside the data")


def test_inspect_reads_array_sources_too(capsys, tmp_path):
    x = pictures(30, channels=3, size=32)
    x[7] = x[3]  # a duplicate inside the train batches
    write_cifar10(tmp_path / "cifar", x, np.arange(30) % 10, n_test=5)
    code, out, _ = run(capsys, "data", "inspect", tmp_path / "cifar", "-o", tmp_path / "c.png", "--json")
    report = json.loads(out)
    assert code == 0 and report["kind"] == "cifar10" and report["splits"] == {"train": 25, "test": 5}
    assert report["classes"]["airplane"] == 3 and report["sizes"] == {"32x32": 30}
    assert report["duplicate_groups"] == [["train[3]", "train[7]"]]
    assert Image.open(tmp_path / "c.png").size == (8 * 34 + 2, 10 * 34 + 2)  # 10 class rows of 32 px cells
    np.savez(tmp_path / "a.npz", images=x[:, 0])
    code, out, _ = run(capsys, "data", "inspect", tmp_path / "a.npz", "--json", "-o", tmp_path / "a.png")
    assert code == 0 and json.loads(out)["classes"] == {} and Image.open(tmp_path / "a.png").size[0] == 8 * 34 + 2


def test_prepare_prints_where_and_train_reuses_it(capsys, tmp_path, cache):
    digits_folder(tmp_path / "d")
    code, out, err = run(capsys, "data", "prepare", tmp_path / "d", "-q")
    assert code == 0 and str(cache) in " ".join(out.split()) and "22 train + 2 test" in out, out
    entries = list((cache / "prepared").iterdir())
    err = train_ok(capsys, tmp_path / "d", "--data-license", "CC0-1.0")
    assert err == "" and list((cache / "prepared").iterdir()) == entries  # the same cache entry
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["train"]["dataset"] == str(tmp_path / "d") and config["train"]["image_size"] == 0
    card = (tmp_path / "run" / "card.md").read_text()
    record = json.loads((tmp_path / "run" / "data.json").read_text())
    assert "Licence: CC0-1.0" in card and record["arrays_sha256"] in card and "Classes (3)" in card


def test_every_source_kind_trains_one_step(capsys, tmp_path):
    x = pictures(30)
    y = np.arange(30) % 3
    write_folder(tmp_path / "folder", x, y)
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as z, tarfile.open(tmp_path / "a.tar.gz", "w:gz") as t:
        for path in sorted((tmp_path / "folder").rglob("*.png")):
            z.write(path, str(path.relative_to(tmp_path / "folder")))
            t.add(path, str(path.relative_to(tmp_path / "folder")))
    write_idx_folder(tmp_path / "idx", (x[:24, 0], y[:24]), (x[24:, 0], y[24:]))
    np.savez(tmp_path / "a.npz", images=x[:, 0], labels=y)
    np.save(tmp_path / "a.npy", x.transpose(0, 2, 3, 1))
    write_cifar10(tmp_path / "cifar", pictures(30, channels=3, size=32), np.arange(30) % 10, n_test=5)
    sources = [("folder", ()), ("a.zip", ()), ("a.tar.gz", ()), ("idx", ()), ("a.npz", ()), ("a.npy", ())]
    sources.append(("cifar", ("--image-size", "28", "--channels", "1")))
    for k, (source, extra) in enumerate(sources):
        train_ok(capsys, tmp_path / source, "--data-license", "test data", *extra, out=f"run{k}")
        assert read_metrics(tmp_path / f"run{k}")[-1]["step"] == 1
    rgb = tmp_path / "rgb64"
    write_folder(rgb, pictures(20, channels=3, size=64), np.arange(20) % 2, suffix=".jpg", quality=95)
    code, _, err = run(
        capsys,
        "train",
        "dcgan64",
        "--data",
        rgb,
        "--out",
        "run64",
        "--steps",
        "1",
        "--batch-size",
        "4",
        "-q",
        "--set",
        "z_dim=4",
        "--set",
        "base_channels=2",
        "--set",
        "embed_dim=3",
        "--data-license",
        "mine",
    )
    assert code == 0, err


def test_a_folder_of_mnist_pngs_trains_to_the_embedded_loaders_losses(capsys, tmp_path, monkeypatch):
    """Same pixels, same order, same labels -> the same batches -> the same losses, bit for bit."""
    train_x, train_y, info = load_dataset("mnist", "train")
    test_x, test_y, _ = load_dataset("mnist", "test")
    n, m = 256, 64
    write_folder(tmp_path / "mnist-png", train_x[:n], train_y[:n], split="train")
    write_folder(tmp_path / "mnist-png", test_x[:m], test_y[:m], split="test")
    head = {"train": (train_x[:n], train_y[:n], info), "test": (test_x[:m], test_y[:m], info)}
    monkeypatch.setitem(datasets.LOADERS, "mnist-head", lambda split, data_dir: head[split])
    common = ("--set", "hidden=8", "--set", "latent_dim=2", "--batch-size", "16", "--steps", "6", "-q")
    for data, out in (("mnist-head", "embedded"), (tmp_path / "mnist-png", "folder")):
        code, _, err = run(
            capsys,
            "train",
            "cvae",
            "--data",
            data,
            "--out",
            out,
            "--data-license",
            "x",
            *common,
            "--set",
            "log_every=1",
        )
        assert code == 0, err
    embedded, folder = read_metrics(tmp_path / "embedded"), read_metrics(tmp_path / "folder")
    losses = [r["loss"] for r in embedded if "loss" in r]
    assert len(losses) == 6 and losses == [r["loss"] for r in folder if "loss" in r]


def test_eval_of_a_run_on_own_data_uses_its_own_test_split(capsys, tmp_path, monkeypatch):
    digits_folder(tmp_path / "d", 80)
    train_ok(capsys, "d", "--data-license", "x")  # a relative path: config.yaml keeps it absolute
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["train"]["dataset"] == str(tmp_path / "d")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    code, out, _ = run(capsys, "eval", tmp_path / "run", "-n", "20", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["extractor"] == "random-projection" and "test split, 8 images" in result["reference"]
    digits_folder(tmp_path / "small", 30)
    train_ok(capsys, tmp_path / "small", "--data-license", "x", out=tmp_path / "small-run")
    code, _, err = run(capsys, "eval", tmp_path / "small-run", "-n", "20")
    one_line_error(code, err, "too few images", "--test-fraction")


def test_missing_license_warns_once_for_a_path(capsys, tmp_path):
    digits_folder(tmp_path / "d")
    code, _, err = run(capsys, "train", "vae", "--data", tmp_path / "d", "--out", "r", *TINY_VAE[:-1])
    assert code == 0 and sum("--data-license" in line for line in err.splitlines()) == 1
    assert "Licence: not given" in (tmp_path / "r" / "card.md").read_text()


def test_conditional_family_on_unlabelled_data_is_one_line(capsys, tmp_path):
    write_folder(tmp_path / "flat", pictures(20))
    code, _, err = run(
        capsys, "train", "cvae", "--data", tmp_path / "flat", "--out", "r", "--data-license", "x", *TINY_VAE
    )
    one_line_error(code, err, "conditional", "class folders")
    code, _, err = run(capsys, "train", "ddpm", "--data", tmp_path / "flat", "--out", "d", "--data-license", "x")
    one_line_error(code, err, "class folders", "--set class_conditional=false")  # the switch ddpm has


# ---- bad input: one line on stderr, exit 2 (or a one-line warning), nothing written into the data's folder ----


def prepare_cli(capsys, path, *extra):
    before = snapshot(path) if path.is_dir() else None
    code, out, err = run(capsys, "data", "prepare", path, "-q", *extra)
    if before is not None:
        assert snapshot(path) == before
    return code, out, err


def test_empty_folder_and_no_images(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    one_line_error(*prepare_cli(capsys, tmp_path / "empty")[::2], "is empty")
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("x")
    one_line_error(*prepare_cli(capsys, tmp_path / "text")[::2], "no image files")
    code, _, err = run(capsys, "train", "vae", "--data", tmp_path / "nowhere", *TINY_VAE)
    one_line_error(code, err, "nowhere")


def test_corrupt_truncated_and_unreadable_files_are_skipped_counted_or_strict(capsys, tmp_path):
    digits_folder(tmp_path / "d", 20)
    good = (tmp_path / "d" / "0" / "00000.png").read_bytes()
    (tmp_path / "d" / "0" / "cut.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "d" / "1" / "junk.jpg").write_bytes(b"nope")
    os.symlink(tmp_path / "missing.png", tmp_path / "d" / "2" / "dangling.png")
    os.mkfifo(tmp_path / "d" / "2" / "fifo.png")
    code, out, err = prepare_cli(capsys, tmp_path / "d")
    (line,) = warnings_of(err)
    assert code == 0 and "skipped 4 corrupt or unreadable images" in line and "0/cut.png" in line
    assert "20 train" not in out and sum(map(int, _counts(out))) == 20
    code, _, err = prepare_cli(capsys, tmp_path / "d", "--strict")
    one_line_error(code, err, "--strict", "4 corrupt or unreadable")


def _counts(out):
    words = " ".join(out.split()).split()
    return [words[words.index("train") - 1], words[words.index("test") - 1]]


def test_a_decompression_bomb_is_refused_by_name(capsys, tmp_path):
    digits_folder(tmp_path / "d", 6)
    Image.new("1", (14_000, 14_000)).save(tmp_path / "d" / "0" / "bomb.png")
    code, _, err = prepare_cli(capsys, tmp_path / "d")
    one_line_error(code, err, "0/bomb.png", "decompression-bomb")


def test_small_images_are_upscaled_with_a_warning_and_mixed_sizes_resized(capsys, tmp_path):
    for i, side in enumerate([20, 64, 64, 70, 64, 64]):
        folder = tmp_path / "d"
        folder.mkdir(exist_ok=True)
        Image.fromarray(np.full((side, side + i), 40 * i, np.uint8)).save(folder / f"{i}.png")
    code, out, err = prepare_cli(capsys, tmp_path / "d")
    (line,) = warnings_of(err)
    assert code == 0 and "upscaled 1 images" in line and "64x64x1" in " ".join(out.split())


def test_symlink_loops_are_skipped_with_a_warning(capsys, tmp_path):
    digits_folder(tmp_path / "d", 12)
    os.symlink(tmp_path / "d", tmp_path / "d" / "0" / "loop")
    code, _, err = prepare_cli(capsys, tmp_path / "d")
    (line,) = warnings_of(err)
    assert code == 0 and "symlink loop" in line


def test_spaces_and_non_ascii_names_work(capsys, tmp_path):
    root = tmp_path / "données à moi"
    for i, cls in enumerate(["chat noir", "été", "猫"] * 4):
        (root / cls).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pictures(1, seed=i)[0, 0]).save(root / cls / f"é {i}.png")
    code, out, err = prepare_cli(capsys, root)
    assert code == 0 and err == "" and "3 classes" in out


def test_a_class_with_a_single_image_warns(capsys, tmp_path):
    digits_folder(tmp_path / "d", 12)
    (tmp_path / "d" / "lonely").mkdir()
    Image.fromarray(pictures(1)[0, 0]).save(tmp_path / "d" / "lonely" / "only.png")
    code, _, err = prepare_cli(capsys, tmp_path / "d", "--test-fraction", "0.01")
    (line,) = warnings_of(err)
    assert code == 0 and "'lonely' has a single training image" in line


def test_labels_out_of_range_in_arrays_is_one_line(capsys, tmp_path):
    np.savez(tmp_path / "a.npz", images=pictures(4), labels=np.array([0, 1, -3, 1]))
    code, _, err = prepare_cli(capsys, tmp_path / "a.npz")
    one_line_error(code, err, "out of range")


def test_zip_with_parent_member_is_refused(capsys, tmp_path):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as z:
        z.writestr("../up.png", b"x")
    code, _, err = prepare_cli(capsys, tmp_path / "evil.zip")
    one_line_error(code, err, "refusing the whole archive")


def test_eval_takes_a_prepared_folder_and_its_train_split_as_the_reference(capsys, tmp_path):
    from genlab.data import DataOptions, prepare, save_samples

    x = pictures(60, channels=3, size=32)
    write_folder(tmp_path / "d", x, np.arange(60) % 2)
    prepared = prepare(tmp_path / "d", DataOptions())
    save_samples(tmp_path / "s.npz", prepared.split("train")[0][:20])
    for ref, split, count in ((prepared.folder, "test", 6), (f"{prepared.folder}:train", "train", 54)):
        code, out, err = run(
            capsys, "eval", tmp_path / "s.npz", "--ref", ref, "--extractor", "random-projection", "--json"
        )
        assert code == 0, err
        assert json.loads(out)["reference"].endswith(f"({split} split, prepared; {count} images)")
