"""Tests for genlab.data.decode: every Pillow mode, EXIF, alpha, crop/pad and the resize rule."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from genlab.data.decode import ImageProblem, Prep, decode, decode_array, read_header, to_size
from genlab.data.options import nearest_size

WHITE = (255, 255, 255)


def encoded(image: Image.Image, fmt: str = "PNG", **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def prep(size=4, channels=1, crop="center", background=WHITE) -> Prep:
    return Prep(size, channels, crop, background)


def test_grey_png_at_its_own_size_keeps_every_byte():
    pixels = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    out, upscaled = decode(encoded(Image.fromarray(pixels)), prep())
    np.testing.assert_array_equal(out, pixels[None])
    assert out.shape == (1, 4, 4) and not upscaled


def test_sixteen_bit_grey_is_divided_by_257_not_clipped():
    wide = np.array([[0, 257, 65535, 32896]], dtype=np.uint16).repeat(4, axis=0)  # (4, 4)
    image = Image.fromarray(wide)
    assert image.mode.startswith("I;16")
    out, _ = decode(encoded(image), prep())
    np.testing.assert_array_equal(out[0, 0], [0, 1, 255, 128])


def test_one_bit_becomes_0_and_255():
    image = Image.new("1", (4, 4), 0)
    image.putpixel((1, 1), 1)
    out, _ = decode(encoded(image), prep())
    assert set(np.unique(out).tolist()) == {0, 255} and out[0, 1, 1] == 255


def test_alpha_is_composited_on_the_background():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    out, _ = decode(encoded(rgba), prep(channels=3))
    assert tuple(out[:, 0, 0]) == (255, 0, 0) and tuple(out[:, 3, 3]) == WHITE
    black, _ = decode(encoded(rgba), prep(channels=3, background=(0, 0, 0)))
    assert tuple(black[:, 3, 3]) == (0, 0, 0)
    la = Image.new("LA", (4, 4), (0, 128))  # black at half opacity over white
    grey, _ = decode(encoded(la), prep())
    assert abs(int(grey[0, 0, 0]) - 127) <= 1


def test_palette_with_transparency_and_cmyk_and_rgb_to_grey():
    p = Image.new("P", (4, 4), 1)
    p.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    p.info["transparency"] = 0
    p.putpixel((0, 0), 0)
    out, _ = decode(encoded(p), prep(channels=3))
    assert tuple(out[:, 0, 0]) == WHITE and tuple(out[:, 1, 1]) == (0, 255, 0)
    cmyk = Image.new("CMYK", (4, 4), (0, 255, 255, 0))  # pure red in CMYK
    red, _ = decode(encoded(cmyk, "JPEG", quality=100), prep(channels=3))
    assert red[0].mean() > 240 and red[1].mean() < 15 and red[2].mean() < 15
    luma, _ = decode(encoded(Image.new("RGB", (4, 4), (255, 0, 0))), prep(channels=1))
    assert luma.shape == (1, 4, 4) and abs(int(luma[0, 0, 0]) - 76) <= 1  # 0.299 * 255


def test_exif_orientation_is_applied():
    image = Image.new("L", (8, 4), 0)  # wide: 8 x 4
    image.paste(255, (0, 0, 2, 4))  # a white band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = encoded(image, exif=exif.tobytes())
    header = read_header(data)
    assert (header.width, header.height) == (4, 8)
    out, _ = decode(data, prep(size=4, crop="none", background=(0, 0, 0)))
    # Displayed upright the band is at the top: rows 0..1 of the padded 8x8 picture, scaled to 4x4 -> row 0.
    assert out[0, 0].mean() > 100 and out[0, 3].mean() == 0


def test_center_crop_and_pad_to_square():
    image = Image.new("L", (8, 4), 0)
    image.paste(255, (0, 0, 2, 4))  # white left quarter: cropped away by the centre crop
    cropped, _ = decode(encoded(image), prep(size=4, crop="center"))
    assert cropped.max() == 0
    padded, _ = decode(encoded(image), prep(size=8, crop="none", background=(0, 0, 0)))
    assert padded[0, :2].max() == 0 and padded[0, 2:6, :2].min() == 255  # padding rows on top


def test_resize_rule_reduce_box_and_lanczos_with_upscale_flag():
    blocks = np.kron(np.arange(4, dtype=np.uint8).reshape(2, 2) * 60, np.ones((4, 4), np.uint8))  # (8, 8)
    small, up = to_size(Image.fromarray(blocks), 2)
    np.testing.assert_array_equal(np.asarray(small), [[0, 60], [120, 180]])  # exact block averages
    assert not up
    _, up = to_size(Image.fromarray(blocks), 5)  # not a divisor: BOX, still down
    assert not up
    big, up = to_size(Image.fromarray(blocks), 16)
    assert up and big.size == (16, 16)


def test_gif_gives_its_first_frame_and_webp_bmp_jpeg_read():
    frames = [Image.new("L", (4, 4), 10), Image.new("L", (4, 4), 200)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    out, _ = decode(buffer.getvalue(), prep())
    assert out.max() < 50
    for fmt in ("WEBP", "BMP", "JPEG"):
        out, _ = decode(
            encoded(Image.new("RGB", (4, 4), (0, 0, 255)), fmt, **({"lossless": True} if fmt == "WEBP" else {})),
            prep(channels=3),
        )
        assert out[2].mean() > 200, fmt


def test_truncated_and_garbage_and_bomb_are_problems_by_kind():
    data = encoded(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)))
    with pytest.raises(ImageProblem) as truncated:
        decode(data[: len(data) // 2], prep())
    assert truncated.value.kind == "corrupt"
    with pytest.raises(ImageProblem) as garbage:
        decode(b"not an image at all", prep())
    assert garbage.value.kind == "corrupt"
    bomb = encoded(Image.new("1", (14_000, 14_000)))  # 196 M pixels: over twice Pillow's default limit
    with pytest.raises(ImageProblem, match="decompression-bomb") as refused:
        decode(bomb, prep())
    assert refused.value.kind == "bomb"


def test_array_images_take_the_same_path_and_skip_work_when_they_fit():
    rgb = np.random.default_rng(1).integers(0, 255, (3, 8, 8), dtype=np.uint8)
    same, _ = decode_array(rgb, prep(size=8, channels=3))
    np.testing.assert_array_equal(same, rgb)
    from_file, _ = decode(encoded(Image.fromarray(rgb.transpose(1, 2, 0))), prep(size=4, channels=1))
    from_array, _ = decode_array(rgb, prep(size=4, channels=1))
    np.testing.assert_array_equal(from_file, from_array)


@pytest.mark.parametrize("side, size", [(28, 28), (30, 32), (40, 32), (48, 64), (100, 128), (500, 128), (10, 28)])
def test_nearest_size_on_a_log_scale(side, size):
    assert nearest_size(side) == size
