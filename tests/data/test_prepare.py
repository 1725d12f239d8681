"""Tests for genlab.data.prepare and the cache: every source kind, splits, labels, order, and the cache itself."""

from __future__ import annotations

import json
import tarfile
import zipfile

import numpy as np
import pytest
from own_data_helpers import (
    pictures,
    snapshot,
    write_cifar10,
    write_cifar100,
    write_folder,
    write_idx_folder,
)

from genlab.data import DataOptions, load_dataset, prepare
from genlab.data.cache import cache_root
from genlab.errors import DataError


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def labelled(n=24, channels=1, size=28, classes=3, seed=0):
    return pictures(n, channels, size, seed), np.arange(n) % classes


def test_folder_with_class_folders_and_splits_reproduces_the_arrays_in_order(tmp_path):
    x, y = labelled(30)
    write_folder(tmp_path / "d", x[:24], y[:24], split="train")
    write_folder(tmp_path / "d", x[24:], y[24:], split="test")
    before = snapshot(tmp_path / "d")
    images, labels, info = load_dataset(str(tmp_path / "d"), "train")
    assert isinstance(images, np.memmap) and not images.flags.writeable
    np.testing.assert_array_equal(images, x[:24])  # sorted by file name across class folders: the index order
    np.testing.assert_array_equal(labels, y[:24])
    test, test_labels, _ = load_dataset(str(tmp_path / "d"), "test")
    np.testing.assert_array_equal(test, x[24:])
    assert info.num_classes == 3 and (info.channels, info.height) == (1, 28)
    assert snapshot(tmp_path / "d") == before  # nothing written beside the data


def test_held_out_split_is_seeded_recorded_and_disjoint(tmp_path):
    x, y = labelled(40)
    write_folder(tmp_path / "d", x, y)
    prepared = prepare(tmp_path / "d", DataOptions(test_fraction=0.25))
    train, _ = prepared.split("train")
    test, _ = prepared.split("test")
    assert (len(train), len(test)) == (30, 10)
    assert prepared.manifest["split"] == {"kind": "held-out", "test_fraction": 0.25, "seed": 0}
    rows = {bytes(r) for r in x.reshape(40, -1)}
    assert {bytes(r) for r in np.concatenate([train, test]).reshape(40, -1)} == rows
    again = prepare(tmp_path / "d", DataOptions(test_fraction=0.25, background="black"))  # another key, same split
    np.testing.assert_array_equal(again.split("test")[0], test)


def test_labels_auto_folders_none_and_unlabelled_loose_files(tmp_path):
    x, y = labelled(12)
    write_folder(tmp_path / "classes", x, y)
    write_folder(tmp_path / "loose", x)
    assert prepare(tmp_path / "classes").manifest["classes"] == ["0", "1", "2"]
    assert prepare(tmp_path / "classes", DataOptions(labels="none")).manifest["classes"] == []
    assert prepare(tmp_path / "loose").manifest["classes"] == []
    with pytest.raises(DataError, match="not in a class folder"):
        prepare(tmp_path / "loose", DataOptions(labels="folders"))
    _, labels, info = load_dataset(str(tmp_path / "loose"), "train")
    assert info.num_classes == 0 and not labels.any()


def test_numeric_class_names_sort_by_value_and_nested_folders_belong_to_their_class(tmp_path):
    x, _ = labelled(12)
    for i in range(12):
        folder = tmp_path / "d" / ("2", "10")[i % 2] / "deeper"
        write_folder(folder, x[i : i + 1], split=f"n{i}")
    manifest = prepare(tmp_path / "d").manifest
    assert manifest["classes"] == ["2", "10"] and sum(manifest["images"].values()) == 12


def test_zip_and_tar_gz_read_in_place_equal_the_folder(tmp_path):
    x, y = labelled(20, channels=3, size=32)
    write_folder(tmp_path / "photos", x, y, suffix=".png")
    zip_path, tar_path = tmp_path / "photos.zip", tmp_path / "photos.tar.gz"
    with zipfile.ZipFile(zip_path, "w") as z, tarfile.open(tar_path, "w:gz") as t:
        for path in sorted((tmp_path / "photos").rglob("*.png")):
            z.write(path, f"photos/{path.relative_to(tmp_path / 'photos')}")  # one wrapping folder
            t.add(path, f"photos/{path.relative_to(tmp_path / 'photos')}")
    folder = load_dataset(str(tmp_path / "photos"), "train")
    for archive in (zip_path, tar_path):
        images, labels, info = load_dataset(str(archive), "train")
        np.testing.assert_array_equal(images, folder[0])
        np.testing.assert_array_equal(labels, folder[1])
        assert info == folder[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "photos", "photos.tar.gz", "photos.zip"]


@pytest.mark.parametrize("member", ["../evil.png", "/etc/evil.png", "a/../../evil.png"])
def test_archives_with_escaping_member_paths_are_refused(tmp_path, member):
    png = tmp_path / "x.png"
    write_folder(tmp_path / "src", pictures(1))
    png = next((tmp_path / "src").glob("*.png"))
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as z:
        z.write(png, "fine.png")
        z.writestr(member, png.read_bytes())
    with pytest.raises(DataError, match="absolute or climbs out"):
        prepare(tmp_path / "bad.zip")
    info = tarfile.TarInfo(member)
    info.size = png.stat().st_size
    with tarfile.open(tmp_path / "bad.tar", "w") as t:
        with open(png, "rb") as f:
            t.addfile(info, f)
    with pytest.raises(DataError, match="absolute or climbs out"):
        prepare(tmp_path / "bad.tar")


def test_idx_folder_is_recognised_by_magic_with_splits_by_name(tmp_path):
    x, y = labelled(30)
    write_idx_folder(tmp_path / "fashion", (x[:20, 0], y[:20]), (x[20:, 0], y[20:]))
    images, labels, info = load_dataset(str(tmp_path / "fashion"), "train")
    np.testing.assert_array_equal(images, x[:20])
    np.testing.assert_array_equal(labels, y[:20])
    assert load_dataset(str(tmp_path / "fashion"), "test")[0].shape == (10, 1, 28, 28)
    one = tmp_path / "fashion" / "train-images-idx3-ubyte.gz"  # one file names its pair
    np.testing.assert_array_equal(load_dataset(str(one), "test")[0], x[20:])
    write_idx_folder(tmp_path / "emnist", (x[:20, 0], y[:20]), (x[20:, 0], y[20:]), prefix="emnist-letters-")
    np.testing.assert_array_equal(load_dataset(str(tmp_path / "emnist"), "train")[0], x[:20].transpose(0, 1, 3, 2))


def test_cifar10_and_cifar100_binary_layouts(tmp_path):
    x = pictures(30, channels=3, size=32)
    y = np.arange(30) % 10
    write_cifar10(tmp_path / "cifar-10-batches-bin", x, y, n_test=5)
    images, labels, info = load_dataset(str(tmp_path / "cifar-10-batches-bin"), "train")
    np.testing.assert_array_equal(images, x[:25])  # R, G, B planes in record order
    np.testing.assert_array_equal(labels, y[:25])
    assert info.num_classes == 10 and prepare(tmp_path / "cifar-10-batches-bin").manifest["classes"][0] == "airplane"
    with tarfile.open(tmp_path / "cifar-10-binary.tar.gz", "w:gz") as t:  # the official download, unopened
        t.add(tmp_path / "cifar-10-batches-bin", "cifar-10-batches-bin")
    np.testing.assert_array_equal(load_dataset(str(tmp_path / "cifar-10-binary.tar.gz"), "test")[0], x[25:])
    fine, coarse = np.arange(30) * 3 % 100, np.arange(30) % 20
    write_cifar100(tmp_path / "c100", x, fine, coarse, n_test=6)
    images, labels, info = load_dataset(str(tmp_path / "c100"), "train")
    np.testing.assert_array_equal(labels, fine[:24])
    np.testing.assert_array_equal(images, x[:24])
    assert info.num_classes == 100


def test_pickled_cifar_is_refused(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    for name in ("data_batch_1", "batches.meta", "test_batch"):
        (tmp_path / "cifar-10-batches-py" / name).write_bytes(b"\x80\x04pickle")
    with pytest.raises(DataError, match="never loads pickles"):
        prepare(tmp_path / "cifar-10-batches-py")


def test_npz_and_npy_channels_first_or_last_with_optional_labels(tmp_path):
    x, y = labelled(20, channels=3, size=32)
    np.savez(tmp_path / "last.npz", images=x.transpose(0, 2, 3, 1), labels=y)
    np.savez(tmp_path / "keras.npz", x_train=x[:15], y_train=y[:15], x_test=x[15:], y_test=y[15:])
    np.save(tmp_path / "plain.npy", x)
    images, labels, info = load_dataset(str(tmp_path / "keras.npz"), "train")
    np.testing.assert_array_equal(images, x[:15])
    np.testing.assert_array_equal(load_dataset(str(tmp_path / "keras.npz"), "test")[1], y[15:])
    last = prepare(tmp_path / "last.npz")
    both = np.concatenate([last.split("train")[0], last.split("test")[0]])
    assert sorted(map(bytes, both.reshape(20, -1))) == sorted(map(bytes, x.reshape(20, -1)))
    assert prepare(tmp_path / "plain.npy").manifest["classes"] == []
    grey = load_dataset(str(tmp_path / "plain.npy"), "train", options=DataOptions(channels=1, image_size=28))
    assert grey[0].shape[1:] == (1, 28, 28) and grey[2].channels == 1


@pytest.mark.parametrize("bad", [np.array([0, 1, -1, 2]), np.array([0, 1, 70_000, 2]), np.array([0.0, 1, 2, 3])])
def test_labels_out_of_range_or_not_integers_are_refused(tmp_path, bad):
    np.savez(tmp_path / "a.npz", images=pictures(4), labels=bad)
    with pytest.raises(DataError, match="labels"):
        prepare(tmp_path / "a.npz")


def test_float_images_and_a_pickled_npy_are_refused(tmp_path):
    np.save(tmp_path / "f.npy", pictures(4).astype(np.float32))
    with pytest.raises(DataError, match="uint8"):
        prepare(tmp_path / "f.npy")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="Python objects"):
        prepare(tmp_path / "o.npy")


def test_the_cache_is_reused_keyed_by_content_and_options_and_lives_outside_the_data(tmp_path, cache):
    x, y = labelled(12)
    paths = write_folder(tmp_path / "d", x, y)
    first = prepare(tmp_path / "d")
    assert first.folder.parent == cache_root() and cache in first.folder.parents
    assert prepare(tmp_path / "d").folder == first.folder  # reused
    assert json.loads((first.folder / "manifest.json").read_text())["key"].startswith(first.folder.name)
    assert prepare(tmp_path / "d", DataOptions(image_size=32)).folder != first.folder
    paths[0].write_bytes(paths[1].read_bytes())  # a changed file: a new entry, never stale data
    assert prepare(tmp_path / "d").folder != first.folder
    with pytest.raises(DataError, match="inside the data folder"):
        prepare(tmp_path / "d", cache_dir=tmp_path / "d" / "cache")
    assert not list(cache_root().glob(".*.tmp"))  # no half-built entries left


def test_resize_and_channels_options_and_named_sets_take_them_too(tmp_path):
    x, y = labelled(12, channels=3, size=64)
    write_folder(tmp_path / "d", x, y)
    images, _, info = load_dataset(str(tmp_path / "d"), "train", options=DataOptions(image_size=32, channels=1))
    assert images.shape[1:] == (1, 32, 32) and (info.channels, info.height) == (1, 32)
    mnist32, _, info = load_dataset("mnist", "test", options=DataOptions(image_size=32, channels=3))
    assert mnist32.shape == (10_000, 3, 32, 32) and info.channels == 3
