"""The sampler and the latent explorer: form parsing, knobs, watermarked PNGs with provenance."""

import io

import numpy as np
import pytest
from PIL import Image

from genlab.errors import ConfigError
from genlab.marks.provenance import fields_of, read_text_chunks
from genlab.web.cache import ModelCache
from genlab.web.sampling import (
    MAX_N,
    ExploreRequest,
    SampleRequest,
    enlarge,
    knobs_of,
    parse_explore_request,
    parse_sample_request,
    render_interpolation,
    render_samples,
    split_request,
)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


@pytest.fixture(scope="module")
def cache():
    return ModelCache()


def test_parse_sample_request_defaults_and_values():
    assert parse_sample_request({"run": "gan"}) == SampleRequest("gan")
    req = parse_sample_request(
        {
            "run": " ddpm ",
            "n": "4",
            "seed": "7",
            "label": "3",
            "steps": "5",
            "guidance": "2.5",
            "sampler": "ddpm",
            "eta": "",
            "checkpoint": "best",
        }
    )
    assert req == SampleRequest("ddpm", 4, 7, 3, 5, 2.5, None, "ddpm", None, "best")


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"n": "0"}, "n must be in 1..64"),
        ({"n": str(MAX_N + 1)}, "n must be in 1..64"),
        ({"n": "1e9"}, "n must be a whole number"),
        ({"seed": "-1"}, "seed must be in"),
        ({"guidance": "nan"}, "guidance must be a number"),
        ({"guidance": "-1"}, "guidance must be a number"),
        ({"eta": "2"}, "eta must be a number in [0, 1]"),
        ({"sampler": "euler"}, "sampler must be one of ddim, ddpm"),
        ({"checkpoint": "../x"}, "checkpoint must be latest, best or a step"),
        ({"seed": "1" * 300}, "seed is too long"),
    ],
)
def test_bad_fields_name_themselves(form, words):
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_sample_request({"run": "gan", **form})


def test_explore_request_ranges():
    assert parse_explore_request({"run": "vae", "t": "0.25", "frames": "5"}) == ExploreRequest("vae", 0, 1, 0.25, 5)
    for bad in ({"t": "1.5"}, {"frames": "1"}, {"frames": "17"}, {"a": "x"}):
        with pytest.raises(ConfigError):
            parse_explore_request({"run": "vae", **bad})


def test_knobs_follow_the_family_config(cache, runs_root):
    gan = cache.family(runs_root / "gan", "latest")[0]
    ddpm = cache.family(runs_root / "group" / "ddpm", "latest")[0]
    assert knobs_of(gan) == {
        "steps": False,
        "guidance": False,
        "truncation": False,
        "sampler": False,
        "eta": False,
        "label": False,
    }
    assert knobs_of(ddpm) == {
        "steps": True,
        "guidance": True,
        "truncation": False,
        "sampler": True,
        "eta": True,
        "label": True,
    }
    overrides, notes = split_request(SampleRequest("gan", steps=5, truncation=0.7, label=2), gan)
    assert overrides == {} and notes == [
        "steps ignored: gan has no steps setting",
        "truncation ignored: gan has no truncation setting",
        "class ignored: gan is unconditional",
    ]
    assert split_request(SampleRequest("ddpm", steps=3, guidance=2.0), ddpm) == (
        {"sample_steps": 3, "guidance": 2.0},
        [],
    )


def test_samples_are_watermarked_seeded_and_carry_provenance(cache, runs_root):
    a = render_samples(cache, runs_root / "cgan", SampleRequest("cgan", n=4, seed=1, label=7))
    b = render_samples(ModelCache(), runs_root / "cgan", SampleRequest("cgan", n=4, seed=1, label=7))
    c = render_samples(cache, runs_root / "cgan", SampleRequest("cgan", n=4, seed=2, label=7))
    assert a.png == b.png and not np.array_equal(pixels(a.png), pixels(c.png))
    grid_height = 2 * 28 + 3 * 2  # 2 rows of 28 px with 2 px padding
    assert pixels(a.png).shape[0] > grid_height  # the visible mark's band below the grid
    fields = fields_of(read_text_chunks(a.png))
    assert fields["generator"] == "cgan" and fields["seed"] == "1" and fields["checkpoint"] == "step 2 (latest)"
    assert fields["checkpoint_hash"].startswith("sha256:") and fields["visible_watermark"] == "AI GENERATED"
    assert '"labels":7' in fields["sampler"] and '"n":4' in fields["sampler"]


def test_diffusion_settings_reach_the_sampler_and_the_metadata(cache, runs_root):
    out = render_samples(
        cache, runs_root / "group" / "ddpm", SampleRequest("group/ddpm", n=2, steps=3, guidance=2.0, sampler="ddim")
    )
    sampler = fields_of(read_text_chunks(out.png))["sampler"]
    assert '"sample_steps":3' in sampler and '"guidance":2.0' in sampler
    with pytest.raises(ConfigError, match="sample_steps must be in 1..20"):
        render_samples(cache, runs_root / "group" / "ddpm", SampleRequest("group/ddpm", n=2, steps=50))
    with pytest.raises(ConfigError, match="class must be in 0..9"):
        render_samples(cache, runs_root / "cgan", SampleRequest("cgan", n=2, label=10))


def test_interpolation_starts_at_seed_a_and_moves_towards_b(cache, runs_root):
    run = runs_root / "vae"
    start_b = pixels(render_interpolation(cache, run, ExploreRequest("vae", a=3, b=4, t=0.0)).png)
    start_c = pixels(render_interpolation(cache, run, ExploreRequest("vae", a=3, b=9, t=0.0)).png)
    middle_b = pixels(render_interpolation(cache, run, ExploreRequest("vae", a=3, b=4, t=0.5)).png)
    middle_c = pixels(render_interpolation(cache, run, ExploreRequest("vae", a=3, b=9, t=0.5)).png)
    assert np.array_equal(start_b, start_c) and not np.array_equal(middle_b, middle_c)
    strip = render_interpolation(cache, run, ExploreRequest("vae", a=3, b=4, frames=5))
    assert (
        pixels(strip.png).shape[1] == 5 * 30 + 2
        and '"path":"slerp"' in fields_of(read_text_chunks(strip.png))["interpolation"]
    )


def test_narrow_grids_are_enlarged_by_whole_pixels():
    small = np.arange(30 * 30, dtype=np.uint8).reshape(30, 30)
    big, k = enlarge(small)
    assert (
        k == 4
        and big.shape == (120, 120)
        and np.array_equal(big[::4, ::4], small)
        and np.array_equal(big[1::4, 3::4], small)
    )
    wide = np.zeros((10, 200, 3), np.uint8)
    assert enlarge(wide)[0] is wide and enlarge(wide)[1] == 1


def families_with_truncation():
    from genlab.models.registry import family_names, get_family

    return [name for name in family_names() if "truncation" in get_family(name).config_cls.__dataclass_fields__]


@pytest.mark.skipif(not families_with_truncation(), reason="no registered family has a truncation setting")
def test_truncation_reaches_a_family_that_has_it(tmp_path, make_tiny_run):
    name = families_with_truncation()[0]
    make_tiny_run(tmp_path / name, name)
    cache, run = ModelCache(), tmp_path / name
    assert knobs_of(cache.family(run, "latest")[0])["truncation"]
    out = render_samples(cache, run, SampleRequest(name, n=2, truncation=0.0))
    assert '"truncation":0.0' in fields_of(read_text_chunks(out.png))["sampler"] and out.notes == ()
    assert not np.array_equal(
        pixels(out.png), pixels(render_samples(cache, run, SampleRequest(name, n=2, truncation=1.0)).png)
    )


def test_the_app_writes_the_same_png_as_genlab_sample(cache, runs_root, tmp_path):
    from genlab.cli import main

    grid = tmp_path / "cli.png"
    assert (
        main(
            [
                "sample",
                str(runs_root / "gan"),
                "-n",
                "16",
                "--seed",
                "5",
                "-o",
                str(tmp_path / "s.npz"),
                "--grid",
                str(grid),
            ]
        )
        == 0
    )
    assert render_samples(cache, runs_root / "gan", SampleRequest("gan", n=16, seed=5)).png == grid.read_bytes()
