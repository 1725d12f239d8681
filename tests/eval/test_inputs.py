"""images_of: folders of PNG/JPEG, .npy and .npz (channels first or last), with every bad case one DataError."""

import numpy as np
import pytest
from PIL import Image

from genlab.errors import DataError
from genlab.eval import inputs
from genlab.eval.inputs import images_of, read_images, write_image_folder


def rgb(seed, h=9, w=7):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_folder_sorted_names_modes_and_other_files_ignored(tmp_path):
    Image.fromarray(rgb(1)).save(tmp_path / "b.png")
    Image.fromarray(rgb(0)).save(tmp_path / "a.PNG")  # suffixes are case-insensitive
    Image.fromarray(rgb(2)).convert("RGBA").save(tmp_path / "c.png")  # alpha dropped
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    Image.fromarray(rgb(3)).save(tmp_path / "sub" / "d.png")  # not recursive
    images = images_of(tmp_path)
    assert images.shape == (3, 3, 9, 7) and images.dtype == np.uint8
    for i, seed in enumerate((0, 1, 2)):
        assert np.array_equal(images[i], rgb(seed).transpose(2, 0, 1))


def test_grey_folder_is_one_channel_and_mixed_modes_become_rgb(tmp_path):
    grey = rgb(0)[:, :, 0]
    Image.fromarray(grey).save(tmp_path / "0.png")
    Image.fromarray(grey).convert("1").save(tmp_path / "1.png")
    assert images_of(tmp_path).shape == (2, 1, 9, 7)
    Image.fromarray(rgb(1)).convert("P").save(tmp_path / "2.png")  # palette: read as RGB
    images, _, note = read_images(tmp_path)
    assert images.shape == (3, 3, 9, 7) and "read as RGB" in note
    assert np.array_equal(images[0], np.repeat(grey[None], 3, axis=0))  # grey repeated, as convert('RGB')


def test_mixed_sizes_resized_to_the_first_and_jpeg(tmp_path):
    Image.fromarray(rgb(0)).save(tmp_path / "0.png")
    Image.fromarray(rgb(1, 18, 14)).save(tmp_path / "1.jpg", quality=95)
    images, _, note = read_images(tmp_path)
    assert images.shape == (2, 3, 9, 7) and "1 of different size resized to 7x9" in note


def test_array_files_channels_first_and_last(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (4, 3, 10, 12), dtype=np.uint8)
    np.save(tmp_path / "first.npy", x)
    np.save(tmp_path / "last.npy", x.transpose(0, 2, 3, 1))
    np.save(tmp_path / "grey.npy", x[:, 0])
    np.savez(tmp_path / "last.npz", images=x.transpose(0, 2, 3, 1), labels=np.arange(4))
    for name in ("first.npy", "last.npy"):
        assert np.array_equal(images_of(tmp_path / name), x), name
    assert images_of(tmp_path / "grey.npy").shape == (4, 1, 10, 12)
    images, labels, _ = read_images(tmp_path / "last.npz")
    assert np.array_equal(images, x) and labels.tolist() == [0, 1, 2, 3]


def test_written_folder_reads_back_pixel_exact(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (3, 3, 8, 5), dtype=np.uint8)
    paths = write_image_folder(tmp_path / "out", x, provenance={"seed": 0})
    assert [p.name for p in paths] == ["000000.png", "000001.png", "000002.png"]
    assert np.array_equal(images_of(tmp_path / "out"), x)
    assert "AI" in str(Image.open(paths[0]).text)  # provenance chunks, pixels unmarked


def bad_npy(path, array):
    np.save(path, array)
    return path


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p, "no PNG or JPEG images"),
        (lambda p: (p / "x.png").write_bytes(b"not a png") and p, "could not be decoded"),
        (lambda p: Image.new("I;16", (4, 4)).save(p / "deep.png") or p, "16-bit"),
        (lambda p: bad_npy(p / "f.npy", np.zeros((2, 3, 4, 4), np.float32)), "uint8"),
        (lambda p: bad_npy(p / "o.npy", np.array([None, 1], dtype=object)), "Python objects"),
        (lambda p: bad_npy(p / "s.npy", np.zeros((2, 5, 4, 4), np.uint8)), "C = 1 or 3"),
        (lambda p: p / "missing.npy", "does not exist"),
        (lambda p: (p / "x.txt").write_text("hello") and p / "x.txt", "not a folder of images"),
    ],
)
def test_bad_inputs(tmp_path, make, words):
    with pytest.raises(DataError, match=words):
        images_of(make(tmp_path))


def test_truncated_npy_and_size_bounds(tmp_path, monkeypatch):
    path = bad_npy(tmp_path / "t.npy", np.zeros((4, 8, 8), np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="different number of bytes"):
        images_of(path)
    Image.fromarray(rgb(0)).save(tmp_path / "a.png")
    monkeypatch.setattr(inputs, "MAX_IMAGE_FILE_BYTES", 10)
    with pytest.raises(DataError, match="bound per file"):
        images_of(tmp_path)
    monkeypatch.setattr(inputs, "MAX_TOTAL_BYTES", 10)
    with pytest.raises(DataError, match="over the 10-byte bound"):
        images_of(tmp_path / "t.npy")
