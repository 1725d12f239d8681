"""`genlab latent`: interpolation, traversal and scatter on tiny runs of each kind of family."""

import numpy as np
import pytest

from genlab.cli import main
from genlab.data import load_image

TINY = {
    "gan": ["--set", "hidden=8", "--set", "z_dim=4"],
    "vae": ["--set", "hidden=16", "--set", "latent_dim=3"],
    "ddpm": [
        "--set",
        "base_channels=4",
        "--set",
        "channel_mults=1,2",
        "--set",
        "diffusion_steps=20",
        "--set",
        "sample_steps=4",
    ],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("latent")
    for name, sets in TINY.items():
        assert (
            main(["train", name, "--steps", "2", "--batch-size", "8", "--out", str(root / name), "--quiet", *sets])
            == 0
        )
    return root


def one_line_error(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(w in err[0] for w in words), err


@pytest.mark.parametrize("name", ["vae", "ddpm"])
def test_interpolation_between_test_images_reports_reconstruction(runs, tmp_path, capsys, name):
    out = tmp_path / "i.png"
    assert (
        main(["latent", "interpolate", str(runs / name), "--from", "3", "--to", "7", "--steps", "5", "-o", str(out)])
        == 0
    )
    text = " ".join(capsys.readouterr().out.split())
    assert "reconstruction of the two ends: MSE" in text and "PSNR" in text
    assert load_image(out).shape[0] > 2 * 28 and out.stat().st_size > 0


def test_gan_interpolates_between_seeds_and_refuses_image_endpoints(runs, tmp_path, capsys):
    out = tmp_path / "g.png"
    assert main(["latent", "interpolate", str(runs / "gan"), "--from", "1", "--to", "2", "-o", str(out)]) == 0
    assert out.exists()
    capsys.readouterr()
    one_line_error(
        capsys, ["latent", "interpolate", str(runs / "gan"), "--from", "x.png", "-o", str(out)], "no encoder", "seeds"
    )


def test_traverse_varies_one_dimension(runs, tmp_path, capsys):
    out = tmp_path / "t.png"
    assert (
        main(["latent", "traverse", str(runs / "vae"), "--dim", "2", "--steps", "4", "--rows", "2", "-o", str(out)])
        == 0
    )
    capsys.readouterr()
    one_line_error(
        capsys, ["latent", "traverse", str(runs / "vae"), "--dim", "3", "-o", str(out)], "--dim must be in 0..2"
    )
    one_line_error(capsys, ["latent", "traverse", str(runs / "ddpm"), "-o", str(out)], "vector latent")


def test_scatter_of_encoded_test_images(runs, tmp_path, capsys):
    out = tmp_path / "s.png"
    assert main(["latent", "scatter", str(runs / "vae"), "-n", "200", "-o", str(out)]) == 0
    assert np.asarray(load_image(out)).std() > 0
    capsys.readouterr()
    one_line_error(capsys, ["latent", "scatter", str(runs / "gan"), "-o", str(out)], "needs an encoder")


def test_bad_index_is_one_line(runs, tmp_path, capsys):
    one_line_error(
        capsys,
        ["latent", "interpolate", str(runs / "vae"), "--from", "99999", "-o", str(tmp_path / "x.png")],
        "test-set index",
    )
