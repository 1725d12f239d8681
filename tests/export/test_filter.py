"""pix2pix ``arch=mobile`` (the real-time filter) and ``genlab filter`` over a folder of frames."""

import numpy as np
import pytest
import torch
from cli_helpers import one_line_error, run
from PIL import Image

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.pix2pix import Pix2Pix, Pix2PixConfig
from genlab.nn.unet_translate import MobileTranslationUNet

# Exports, tiny trainings and subprocesses: minutes on a loaded 2-core machine.
pytestmark = pytest.mark.timeout(900)


def test_arch_mobile_builds_the_mobile_generator_and_trains():
    family = Pix2Pix(
        Pix2PixConfig(arch="mobile", base_channels=4, depth=3, d_base_channels=4), DataInfo(1, 28, 56, 10)
    )
    assert isinstance(family.nets["generator"], MobileTranslationUNet)
    before = [p.clone() for p in family.nets["generator"].parameters()]
    images = torch.rand(4, 1, 28, 56) * 2 - 1
    metrics = family.train_step(images, None, torch.Generator().manual_seed(0))
    assert np.isfinite(metrics["loss_l1"])
    assert any(not torch.equal(a, b) for a, b in zip(before, family.nets["generator"].parameters()))
    x = images[:, :, :, :28]
    out = family.translate(x, torch.Generator().manual_seed(1))  # sample_dropout is on, but there is no dropout
    assert torch.equal(out, family.translate(x, torch.Generator().manual_seed(2)))
    with pytest.raises(ConfigError, match="arch must be unet or mobile"):
        Pix2PixConfig(arch="tiny").check()


def frames(folder, n, size, channels):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        pixels = rng.integers(0, 256, (size, size, 3) if channels == 3 else (size, size), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"frame_{i:03d}.png")
    return folder


def test_filter_translates_every_frame_and_prints_frames_per_second(capsys, tiny_run, tmp_path):
    run_dir = tiny_run("pix2pix", arch="mobile")
    source = frames(tmp_path / "in", 5, 40, 1)  # 40 x 40: resized to the model's 28 x 28
    code, out, err = run(capsys, "filter", run_dir, "--input", source, "-o", tmp_path / "out", "--threads", 1)
    assert code == 0 and not err
    assert "filtered 5 frames" in out and "frames/s in the model" in out and "end to end" in out
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f"frame_{i:03d}.png" for i in range(5)]
    with Image.open(tmp_path / "out" / "frame_000.png") as image:
        assert image.size[0] == 28


def test_filter_refuses_a_generator_and_an_empty_folder(capsys, tiny_run, tmp_path):
    assert run(capsys, "export", tiny_run("gan"), "-o", tmp_path / "gan")[0] == 0
    source = frames(tmp_path / "in", 1, 28, 1)
    code, _, err = run(capsys, "filter", tmp_path / "gan", "--input", source, "-o", tmp_path / "o")
    one_line_error(code, err, "translation model")
    (tmp_path / "empty").mkdir()
    code, _, err = run(
        capsys, "filter", tiny_run("pix2pix", arch="mobile"), "--input", tmp_path / "empty", "-o", tmp_path / "o"
    )
    one_line_error(code, err, "holds no image files")
