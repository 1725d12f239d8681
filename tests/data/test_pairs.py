"""Image-to-image pairs from the user's folders (genlab.data.sources.pairs, genlab.data.prepare_pairs): A/ B/ folders,
side-by-side images, unpaired domains; pix2pix and cyclegan train on them and `sample` / `eval` run; bad input is one
line."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from cli_helpers import one_line_error, run
from own_data_helpers import snapshot
from PIL import Image

from genlab.data import DataOptions, load_dataset, prepare
from genlab.data.sources.pairs import unpaired_rows
from genlab.errors import DataError

S = 16
TINY_P2P = ("--set", "base_channels=4", "--set", "depth=2", "--set", "d_base_channels=4", "--set", "grid_size=4")
TINY_CYC = ("--set", "base_channels=2", "--set", "n_blocks=1", "--set", "d_base_channels=2", "--set", "pool_size=2")
STEP = ("--steps", "1", "--batch-size", "4", "--image-size", str(S), "--data-license", "CC0-1.0", "-q")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "cache"


def pictures(n, channels=3, seed=0):
    """n random uint8 (S, S, C) pictures and their inverses: an A -> B mapping to learn."""
    a = np.random.default_rng(seed).integers(0, 256, (n, S, S, channels), dtype=np.uint8)
    return a, 255 - a


def save(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels).save(path)


def ab_folder(root, a, b, names=None, split=""):
    for i, (x, y) in enumerate(zip(a, b)):
        name = names[i] if names else f"{i:03d}"
        save(root / split / "A" / f"{name}.png", x)
        save(root / split / "B" / f"{name}.png", y)
    return root


def side_by_side_folder(root, a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        save(root / f"{i:03d}.png", np.concatenate([x, y], axis=1))  # (S, 2S, C): A left of B
    return root


def chw(x):
    return x.transpose(0, 3, 1, 2)  # (N, S, S, C) -> (N, C, S, S)


def test_ab_folders_side_by_side_images_and_a_zip_give_identical_arrays(tmp_path):
    a, b = pictures(10)
    ab = ab_folder(tmp_path / "ab", a, b)
    sbs = side_by_side_folder(tmp_path / "sbs", a, b)
    with zipfile.ZipFile(tmp_path / "ab.zip", "w") as z:
        for path in sorted(ab.rglob("*.png")):
            z.write(path, f"ab/{path.relative_to(ab)}")
    before = snapshot(ab)
    options = DataOptions(image_size=S, pairs="paired")
    prepared = {k: prepare(p, options) for k, p in (("ab", ab), ("sbs", sbs), ("zip", tmp_path / "ab.zip"))}
    assert {k: p.manifest["layout"] for k, p in prepared.items()} == {"ab": "ab", "sbs": "side-by-side", "zip": "ab"}
    for split in ("train", "test"):
        rows = prepared["ab"].split(split)[0]
        for other in ("sbs", "zip"):
            np.testing.assert_array_equal(prepared[other].split(split)[0], rows)
    train, test = prepared["ab"].split("train")[0], prepared["ab"].split("test")[0]
    assert train.shape == (9, 3, S, 2 * S) and test.shape == (1, 3, S, 2 * S)  # a seeded tenth held out
    whole = np.concatenate([chw(a), chw(b)], axis=3)  # (N, C, S, 2S)
    assert {bytes(r) for r in np.concatenate([train, test])} == {bytes(r) for r in whole}  # every A beside its own B
    images, _, info = load_dataset(str(ab), "train", options=options)
    assert (info.channels, info.height, info.width, info.num_classes) == (3, S, 2 * S, 0) and info.pairs_source
    assert snapshot(ab) == before  # nothing written beside the data


def test_split_folders_are_the_data_own_in_both_naming_conventions(tmp_path):
    a, b = pictures(7)
    nested = ab_folder(tmp_path / "n", a[:5], b[:5], split="train")
    ab_folder(nested, a[5:], b[5:], names=["x", "y"], split="val")
    cyc = tmp_path / "c"
    for i in range(7):
        save(cyc / ("trainA" if i < 5 else "testA") / f"{i}.png", a[i])
        save(cyc / ("trainB" if i < 5 else "testB") / f"{i}.png", b[i])
    for root in (nested, cyc):
        prepared = prepare(root, DataOptions(image_size=S, pairs="ab"))
        assert prepared.manifest["split"] == {"kind": "own"}
        assert prepared.manifest["images"] == {"train": 5, "test": 2}
        np.testing.assert_array_equal(prepared.split("test")[0][..., :S], chw(a[5:]))
        np.testing.assert_array_equal(prepared.split("test")[0][..., S:], chw(b[5:]))


def test_names_pair_by_path_without_suffix_and_unmatched_files_are_counted_or_refused(tmp_path):
    a, b = pictures(6)
    root = ab_folder(tmp_path / "d", a, b)
    (root / "B" / "003.png").rename(root / "B" / "003.jpg")  # another format, same stem: still a pair
    save(root / "A" / "lonely.png", a[0])
    save(root / "B" / "orphan.png", b[0])
    prepared = prepare(root, DataOptions(image_size=S, pairs="ab"))
    pairing = prepared.manifest["pairing"]
    assert pairing["unmatched"] == {"count": 2, "first": ["A/lonely.png", "B/orphan.png"]}
    assert sum(pairing["matched"].values()) == 6
    assert any("2 files without a partner" in note for note in prepared.manifest["notes"])
    with pytest.raises(DataError, match="--strict: 2 files in .* no partner of the same name: A/lonely.png"):
        prepare(root, DataOptions(image_size=S, pairs="ab", strict=True))


def test_unpaired_rows_keep_the_larger_domain_and_cycle_a_seeded_permutation_of_the_smaller():
    ia, ib = unpaired_rows(3, 7)
    np.testing.assert_array_equal(ib, np.arange(7))
    assert sorted(ia[:3]) == [0, 1, 2] and sorted(ia[3:6]) == [0, 1, 2] and ia[6] in (0, 1, 2)  # laps of 3
    again = unpaired_rows(3, 7)[0]
    np.testing.assert_array_equal(ia, again)  # seeded
    ja, jb = unpaired_rows(4, 4)
    np.testing.assert_array_equal(np.stack([ja, jb]), np.stack([np.arange(4), np.arange(4)]))  # equal counts: as is


def test_unpaired_domains_of_different_counts_prepare_by_the_stated_rule(tmp_path):
    a, _ = pictures(8, channels=1, seed=1)
    _, b = pictures(3, channels=1, seed=2)
    root = tmp_path / "u"
    for i, x in enumerate(a):
        save(root / "A" / f"a{i}.png", x)
    for i, y in enumerate(b):
        save(root / "B" / f"zz{i}.png", y)  # no name in common: unpaired needs none
    prepared = prepare(root, DataOptions(image_size=S, pairs="unpaired", test_fraction=0.25))
    m = prepared.manifest
    assert m["layout"] == "unpaired" and m["pairing"]["seed"] == 1 and "permutation" in m["pairing"]["rule"]
    assert m["domains"] == {"A": {"train": 6, "test": 2}, "B": {"train": 2, "test": 1}}
    train = prepared.split("train")[0]
    assert train.shape == (6, 1, S, 2 * S)  # rows = the larger domain's count
    assert {bytes(r) for r in train[..., :S]} <= {bytes(r) for r in chw(a)} and len(
        {bytes(r) for r in train[..., :S]}
    ) == 6
    assert len({bytes(r) for r in train[..., S:]}) == 2  # the two B train images, each 3 times


def bad(tmp_path, capsys, root, *argv, words=()):
    before = snapshot(root)
    code, _, err = run(capsys, *argv)
    one_line_error(code, err, *words)
    assert snapshot(root) == before


def test_bad_pair_layouts_are_one_line_and_write_nothing(tmp_path, capsys):
    a, b = pictures(4)
    only_a = tmp_path / "only_a"
    for i, x in enumerate(a):
        save(only_a / "A" / f"{i}.png", x)
    bad(tmp_path, capsys, only_a, "data", "prepare", only_a, "--pairs", "ab", words=("none in B/",))
    (only_a / "B").mkdir()
    bad(tmp_path, capsys, only_a, "train", "cyclegan", "--data", only_a, *STEP, words=("none in B/",))
    nomatch = ab_folder(tmp_path / "nomatch", a[:2], b[:2])
    for path in (nomatch / "B").iterdir():
        path.rename(path.with_name("other-" + path.name))
    bad(
        tmp_path, capsys, nomatch, "train", "pix2pix", "--data", nomatch, *STEP, words=("no file of A/ has a partner",)
    )
    odd = tmp_path / "odd"
    save(odd / "0.png", np.zeros((S, 2 * S + 1, 3), np.uint8))
    save(odd / "1.png", np.zeros((S, 2 * S, 3), np.uint8))
    bad(tmp_path, capsys, odd, "data", "prepare", odd, "--pairs", "side-by-side", words=("an odd width",))
    square = tmp_path / "square"
    for i, x in enumerate(a):
        save(square / ("c1" if i % 2 else "c2") / f"{i}.png", x)  # a plain class folder
    bad(
        tmp_path,
        capsys,
        square,
        "data",
        "prepare",
        square,
        "--pairs",
        "side-by-side",
        words=("not width = 2 x height",),
    )
    bad(
        tmp_path,
        capsys,
        square,
        "train",
        "pix2pix",
        "--data",
        square,
        *STEP,
        words=("A/ and B/ folders", "side-by-side"),
    )
    ab = ab_folder(tmp_path / "ab", a, b)
    bad(tmp_path, capsys, ab, "train", "dcgan", "--data", ab, "--pairs", "ab", *STEP, words=("translation families",))
    bad(tmp_path, capsys, ab, "train", "pix2pix", "--data", ab, "--pairs", "none", *STEP, words=("not plain images",))
    bad(tmp_path, capsys, ab, "train", "pix2pix", "--data", ab, "--pairs", "unpaired", *STEP, words=("aligned pairs",))
    np.savez(tmp_path / "x.npz", images=np.zeros((4, 1, S, S), np.uint8))
    bad(tmp_path, capsys, ab, "data", "prepare", tmp_path / "x.npz", "--pairs", "ab", words=("folder or a .zip",))


@pytest.mark.trains
def test_pix2pix_trains_on_ab_folders_then_samples_and_scores_against_the_ground_truth(tmp_path, capsys):
    a, b = pictures(12)
    ab = ab_folder(tmp_path / "ab", a, b)
    code, _, err = run(
        capsys, "train", "pix2pix", "--data", ab, "--test-fraction", "0.25", *STEP, *TINY_P2P, "--out", "r"
    )
    assert code == 0, err
    code, out, err = run(capsys, "data", "inspect", ab, "--pairs", "paired", "--test-fraction", "0.25", "--json")
    assert code == 0 and json.loads(out)["matched"] == {"train": 9, "test": 3}, err
    code, out, err = run(capsys, "sample", "r", "-n", "4", "-o", "s.npz")
    assert code == 0, err
    assert np.load("s.npz")["images"].shape == (4, 3, S, 2 * S)  # [input | output]
    code, out, err = run(capsys, "eval", "r", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["ground_truth"] and result["layout"] == "ab" and result["n"] == 3
    copy = result["copy_vs_truth"]  # B = 255 - A: the copy is as far from the truth as can be
    assert copy["l1"] == pytest.approx(np.abs(a.astype(float) - b).mean() / 255, abs=0.1) and copy["l1"] > 0.3
    assert (
        0 <= result["vs_truth"]["l1"] <= 1
        and np.isfinite(result["fid"])
        and result["extractor"] == "random-projection"
    )
    code, _, err = run(capsys, "export", "r", "--format", "torchscript", "-o", "ex")
    assert code == 0, err
    manifest = json.loads((tmp_path / "ex" / "manifest.json").read_text())
    assert manifest["conventions"]["pairs"].startswith("own image pairs (ab) from ")


@pytest.mark.trains
def test_cyclegan_trains_on_unpaired_folders_and_eval_says_there_is_no_ground_truth(tmp_path, capsys):
    a, _ = pictures(6, channels=1, seed=3)
    _, b = pictures(4, channels=1, seed=4)
    root = tmp_path / "u"
    for i, x in enumerate(a):
        save(root / ("trainA" if i < 4 else "testA") / f"{i}.png", x)
    for i, y in enumerate(b):
        save(root / ("trainB" if i < 2 else "testB") / f"{i}.png", y)
    code, _, err = run(capsys, "train", "cyclegan", "--data", root, *STEP, *TINY_CYC, "--out", "r")
    assert code == 0, err
    code, out, err = run(capsys, "sample", "r", "-n", "3", "-o", "s.npz")
    assert code == 0 and np.load("s.npz")["images"].shape == (3, S, 2 * S), err  # grey: N x H x W
    code, out, err = run(capsys, "eval", "r")
    assert code == 0, err
    assert "no ground truth" in out and "fid" in out and "copy" in out
