"""The resize rules: each reference tool's preprocessing, reproduced to the bit where it can be checked."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from parity_helpers import needs_tool
from PIL import Image

from genlab.errors import ConfigError
from genlab.eval.resize import conform, inception_input, pil_resize, tf1_bilinear, to_channels


def images(n=2, c=3, h=13, w=21, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, c, h, w), dtype=np.uint8)


def test_tf1_bilinear_closed_form():
    """TF 1.x (align_corners=False): out[i] samples in[i * in / out], clamped at the far edge, lerp between."""
    x = torch.tensor([[[[0.0, 10.0, 20.0]]]])  # (1, 1, 1, 3)
    out = tf1_bilinear(x, 1, 6)  # positions 0, .5, 1, 1.5, 2, 2.5 -> the last clamps to in[2]
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([0.0, 5.0, 10.0, 15.0, 20.0, 20.0]))
    down = tf1_bilinear(torch.arange(8.0).view(1, 1, 1, 8), 1, 2)  # positions 0 and 4: no averaging
    torch.testing.assert_close(down[0, 0, 0], torch.tensor([0.0, 4.0]))


def test_tf1_bilinear_equals_torch_fidelity():
    needs_tool("torch_fidelity")
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    for h, w in ((13, 21), (28, 28), (400, 350)):
        x = torch.from_numpy(images(h=h, w=w)).float()
        theirs = interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)
        assert torch.equal(tf1_bilinear(x, 299, 299), theirs), (h, w)


def test_inception_input_rules():
    batch = torch.from_numpy(images())
    x = batch.float()
    pfid = F.interpolate(x / 255.0, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
    assert torch.equal(inception_input(batch, "pytorch-fid"), pfid)
    assert torch.equal(inception_input(batch, "torch-fidelity"), (tf1_bilinear(x, 299, 299) - 128) / 128)
    clean = inception_input(batch, "clean")
    channel = Image.fromarray(x[1, 2].numpy(), mode="F").resize((299, 299), Image.BICUBIC)
    expected = (torch.from_numpy(np.asarray(channel).clip(0, 255)) - 128) / 128
    assert clean.shape == (2, 3, 299, 299) and torch.equal(clean[1, 2], expected)
    grey = torch.from_numpy(images(c=1))
    for rule in ("pytorch-fid", "torch-fidelity", "clean"):  # grey = the same grey in R, G and B
        assert torch.equal(inception_input(grey, rule), inception_input(grey.expand(-1, 3, -1, -1), rule))
    with pytest.raises(ConfigError, match="unknown resize rule"):
        inception_input(batch, "nearest")  # type: ignore[arg-type]


def test_clean_rule_is_anti_aliased_and_the_others_are_not():
    """A 1-pixel checkerboard shrunk 800 -> 299: anti-aliasing averages it to flat mid-grey, bilinear
    sampling without it leaves a moire pattern (measured std 0.33 of the [-1, 1] range)."""
    board = ((np.indices((800, 800)).sum(0) % 2) * 255).astype(np.uint8)[None, None]  # (1, 1, 800, 800)
    board = torch.from_numpy(board)
    assert inception_input(board, "clean").std() < 0.01
    assert inception_input(board, "torch-fidelity").std() > 0.2
    assert inception_input(board, "pytorch-fid").std() > 0.2


def test_conform_channels_and_size():
    rgb = images(c=3, h=56, w=56)
    grey = to_channels(rgb, 1)
    expected = np.asarray(Image.fromarray(rgb[0].transpose(1, 2, 0)).convert("L"))
    assert grey.shape == (2, 1, 56, 56) and np.array_equal(grey[0, 0], expected)
    assert np.array_equal(to_channels(grey, 3), np.repeat(grey, 3, axis=1))
    small = conform(rgb, (1, 28, 28))
    direct = np.asarray(Image.fromarray(grey[1, 0]).resize((28, 28), Image.Resampling.BICUBIC))
    assert small.shape == (2, 1, 28, 28) and np.array_equal(small[1, 0], direct)
    assert pil_resize(rgb, 56, 56) is rgb  # already the size: untouched
    flat = np.full((1, 1, 40, 40), 77, np.uint8)
    assert (pil_resize(flat, 17, 9) == 77).all()  # a constant stays constant
