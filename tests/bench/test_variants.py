"""Training-step variants: same start, same batches, comparable losses; the page states the rule and the verdict."""

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import one_line_error, run

from genlab.bench import variants as variants_module
from genlab.bench.machine import machine_info
from genlab.bench.report import render_run, render_variants, update_results, write_report
from genlab.bench.variants import (
    VARIANTS,
    break_even_steps,
    compare_variants,
    fresh_compile_cache,
    offered,
    parse_variants,
    step_context,
    verdict,
)
from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.registry import get_family

INFO = DataInfo(1, 28, 28, 10)  # dcgan's nets make 28x28 only


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


def tiny(name, chosen, **kw):
    images, labels = data()
    settings = {"batch_size": 8, "warmup": 1, "rounds": 2, "steps_per_round": 1, "agree_steps": 3, **kw}
    return compare_variants(
        name, images, labels, INFO, variants=chosen, preset=None, overrides=get_family(name).tiny, **settings
    )


@pytest.mark.parametrize("name", ["dcgan", "conv-vae", "ddpm", "gan", "vae"])
def test_every_variant_runs_and_channels_last_trains_like_eager(name):
    chosen, _ = offered(parse_variants(["channels_last", "bf16", "fused"]))
    r = tiny(name, chosen)
    rows = {row["variant"]: row for row in r["variants"]}
    assert list(rows)[0] == "eager" and set(rows) == {v.name for v in chosen}
    assert r["timed_steps"] == 2 and r["images_per_step"] == 8  # one batch per step: n_critic is 1 in these families
    for row in rows.values():
        assert math.isfinite(row["ms_per_step"]) and row["ms_per_step"] > 0 and math.isfinite(row["images_per_s"])
        assert row["images_per_s"] == pytest.approx(r["images_per_step"] / (row["ms_per_step"] / 1e3))
        assert len(row["losses"]) == 3 and all(math.isfinite(v) for v in row["losses"])
        assert row["compile_seconds"] is None and row["break_even_steps"] is None
    assert rows["eager"]["vs_eager"] == 1.0 and rows["eager"]["max_loss_difference"] == 0.0
    # Same maths in another memory layout: equal to float32 rounding from the same start.
    assert rows["channels_last"]["max_relative_difference"] < 1e-5
    assert rows["channels_last"]["vs_eager"] == pytest.approx(
        rows["eager"]["ms_per_step"] / rows["channels_last"]["ms_per_step"]
    )
    assert rows["fused"]["max_relative_difference"] < 1e-5  # the fused Adam kernel: the same update, other rounding


def test_bf16_runs_under_autocast_and_differs_from_float32_by_rounding_only():
    if "bf16" not in {v.name for v in offered([VARIANTS["bf16"]])[0]}:
        pytest.skip("no native bfloat16 on this CPU")
    row = tiny("conv-vae", parse_variants(["bf16"]))["variants"][1]
    assert 0 < row["max_relative_difference"] < 0.05  # bfloat16 keeps 8 bits of mantissa: close, not equal


def test_a_bf16_step_sees_weights_updated_in_place_during_it():
    # autocast's default weight-cast cache would hand the second call the stale bfloat16 copy.
    lin, x = torch.nn.Linear(4, 4), torch.ones(1, 4)
    with step_context(VARIANTS["bf16"]):
        before = lin(x)
        assert before.dtype == torch.bfloat16
        with torch.no_grad():
            lin.weight.add_(1.0)
        assert torch.allclose(
            lin(x).float() - before.float(), torch.full((1, 4), 4.0), atol=0.05
        )  # bfloat16 steps near 4: 1/32


def test_eager_is_always_the_first_variant_and_names_are_checked():
    assert [v.name for v in parse_variants(["bf16", "eager", "bf16"])] == ["eager", "bf16"]
    with pytest.raises(ConfigError, match="known variants: eager, channels_last"):
        parse_variants(["fast"])
    with pytest.raises(ConfigError, match="first variant must be eager"):
        tiny("vae", [VARIANTS["bf16"]])
    with pytest.raises(ConfigError, match="must be >= 1"):
        tiny("vae", parse_variants([]), warmup=0)


def test_bf16_is_skipped_with_a_reason_where_the_cpu_lacks_it(monkeypatch):
    chosen = parse_variants(["bf16", "channels_last"])
    monkeypatch.setattr(variants_module, "bf16_supported", lambda: False)
    kept, skipped = offered(chosen)
    assert [v.name for v in kept] == ["eager", "channels_last"] and "_is_mkldnn_bf16_supported" in skipped["bf16"]
    monkeypatch.setattr(variants_module, "bf16_supported", lambda: True)
    assert offered(chosen) == (chosen, {})


def test_compiles_can_go_to_a_fresh_cache_that_is_removed_afterwards():
    before = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    with fresh_compile_cache():
        folder = Path(os.environ["TORCHINDUCTOR_CACHE_DIR"])
        assert folder.is_dir() and not any(folder.iterdir()) and str(folder) != before
    assert os.environ.get("TORCHINDUCTOR_CACHE_DIR") == before and not folder.exists()


def test_break_even_is_compile_time_over_the_saving_per_step():
    assert break_even_steps(10.0, eager_ms=30.0, compiled_ms=20.0) == pytest.approx(1000.0)
    assert break_even_steps(10.0, eager_ms=20.0, compiled_ms=20.0) is None
    assert break_even_steps(10.0, eager_ms=20.0, compiled_ms=25.0) is None


def row(variant, vs, rel, compile_seconds=None, break_even=None, graphs=None):
    r = {
        "variant": variant,
        "description": VARIANTS[variant].describe(),
        "ms_per_step": 10.0 / vs,
        "images_per_s": 12.8 * vs,
        "vs_eager": vs,
        "losses": [1.0, 0.9],
        "max_loss_difference": rel,
        "max_relative_difference": rel,
        "final_relative_difference": rel / 2,
        "compile_seconds": compile_seconds,
        "break_even_steps": break_even,
    }
    return r if graphs is None else {**r, "graphs": graphs}


def variants_section():
    dcgan = {
        "family": "dcgan",
        "variants": [
            row("eager", 1.0, 0.0),
            row("channels_last", 1.25, 1e-7),
            row("bf16", 1.5, 0.03),
            row("compile", 1.05, 1e-7, compile_seconds=20.0, break_even=4200.0, graphs=6),
        ],
    }
    ddpm = {
        "family": "ddpm",
        "variants": [
            row("eager", 1.0, 0.0),
            row("channels_last", 0.8, 1e-7),
            row("bf16", 1.1, 0.001),
            row("compile", 0.9, 1e-7, compile_seconds=30.0, graphs=3),
        ],
    }
    return {
        "command": "genlab bench variants --families dcgan,ddpm",
        "machine": machine_info(),
        "load_average_after": [1.0, 1.0, 1.0],
        "bf16_supported": True,
        "skipped": {},
        "compiler_startup_seconds": 4.0,
        "fresh_compile_cache": True,
        "preset": "small",
        "batch_size": 128,
        "warmup": 3,
        "rounds": 4,
        "steps_per_round": 5,
        "agree_steps": 20,
        "results": [dcgan, ddpm],
    }


def test_verdict_needs_the_speedup_and_the_loss_within_tolerance():
    dcgan, ddpm = variants_section()["results"]
    assert verdict(dcgan) == {"wins": ["channels_last"], "does_not_win": ["bf16", "compile"]}  # bf16: fast but 3 % off
    assert verdict(ddpm) == {"wins": ["bf16"], "does_not_win": ["channels_last", "compile"]}  # 1.10x exactly wins


def test_the_page_shows_the_table_the_rule_and_each_familys_verdict(tmp_path):
    doc = tmp_path / "performance.md"
    text = write_report(doc, update_results(doc.with_suffix(".json"), "variants", variants_section())).read_text()
    assert (
        "## Training-step variants" in text
        and "`genlab bench variants --families dcgan,ddpm`" in text
        and "load average" in text
    )
    assert "| dcgan | compile | 9.52 | 13.4 | 1.05x | 20.0 (6 graphs) | 4200 | 1e-07 | 1e-07 | 5e-08 |" in text
    assert (
        "| ddpm | compile | 11.11 | 11.5 | 0.90x | 30.0 (3 graphs) | never |" in text
        and "| ddpm | bf16 | 9.09 | 14.1 | 1.10x |  |  |" in text
    )
    assert (
        "Rule: a variant wins when its median step is >= 1.10x eager's and its loss stays within 2% (max relative) of "
        "eager's." in text
    )
    assert (
        "- dcgan: wins: channels_last (1.25x); does not win: bf16 (1.50x, loss off by 3.0%), compile (1.05x). Fastest "
        "winner: **channels_last**." in text
    )
    assert (
        "- ddpm: wins: bf16 (1.10x); does not win: channels_last (0.80x), compile (0.90x). Fastest winner: **bf16**."
        in text
    )
    assert "Native bfloat16 on this CPU (`torch.ops.mkldnn._is_mkldnn_bf16_supported()`): yes." in text
    assert "(4.0 s to compile a small conv net)" in text and "Compiles went into a fresh, empty inductor cache" in text
    assert "`--warm-cache`" in "\n".join(render_variants({**variants_section(), "fresh_compile_cache": False}))
    skipped = {**variants_section(), "bf16_supported": False, "skipped": {"bf16": "no native bfloat16"}}
    assert "Not measured: bf16: no native bfloat16." in "\n".join(render_variants(skipped))


def minimal_run():
    return {
        "command": "genlab bench run",
        "machine": machine_info(),
        "matmul_n": 64,
        "matmul_gflops": 10.0,
        "training": [],
        "sampling": [],
        "profile": [],
        "evaluation": {"n": 10, "reference_n": 10, "feature_seconds": 0.1, "images_per_s": 100.0, "fid_seconds": 0.01},
        "scaling": [{"family": "vae", "ms_by_batch": {"16": 1.0}, "batch_for_sizes": 32, "ms_by_size": {"28": 2.0}}],
    }


def test_the_run_section_points_at_the_variants_only_when_they_were_measured():
    figures = {"loss": "l.png", "scaling": "s.png"}
    without, with_ = (
        "\n".join(render_run(minimal_run(), figures)),
        "\n".join(render_run(minimal_run(), figures, variants_measured=True)),
    )
    assert "are not on this page yet" in without and "#training-step-variants" not in without
    assert "[Training-step variants](#training-step-variants) below" in with_ and "not on this page" not in with_


def test_the_command_stores_its_section_and_renders_the_page(capsys, tmp_path):
    doc, threads = tmp_path / "p.md", torch.get_num_threads()
    try:
        code, out, _ = run(
            capsys,
            "bench",
            "variants",
            "--families",
            "vae",
            "--variants",
            "channels_last",
            "--batch-size",
            "8",
            "--warmup",
            "1",
            "--rounds",
            "1",
            "--steps-per-round",
            "1",
            "--agree-steps",
            "2",
            "--threads",
            "1",
            "--doc",
            doc,
        )
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)  # --threads sets the process's torch threads; give the other tests theirs back
    assert code == 0 and "vae: wins:" in out
    stored = json.loads(doc.with_suffix(".json").read_text())["variants"]
    assert (
        stored["compiler_startup_seconds"] is None
        and stored["fresh_compile_cache"] is False
        and stored["machine"]["threads"] == 1
    )
    assert [r["variant"] for r in stored["results"][0]["variants"]] == ["eager", "channels_last"]
    assert "## Training-step variants" in doc.read_text() and "--agree-steps 2" in doc.read_text()


def test_bad_options_are_one_line_errors(capsys, tmp_path):
    doc = tmp_path / "p.md"
    for args, word in (
        (["--families", "nope"], "nope"),
        (["--families", "pix2pix"], "MNIST"),
        (["--variants", "eager,fast"], "fast"),
        (["--warmup", "0"], "--warmup"),
        (["--agree-steps", "0"], "--agree-steps"),
        (["--threads", "0"], "--threads"),
    ):
        code, _, err = run(capsys, "bench", "variants", *args, "--doc", doc)
        one_line_error(code, err, word)
    assert not doc.exists()


@pytest.mark.slow
def test_compile_builds_graphs_reports_its_cost_and_trains_like_eager():
    r = tiny("dcgan", parse_variants(["compile"]), warmup=2)
    eager, compiled = r["variants"]
    assert compiled["graphs"] >= 2 and compiled["compile_seconds"] > 0  # dynamo really compiled both nets
    assert compiled["max_relative_difference"] < 1e-4
    expected = break_even_steps(compiled["compile_seconds"], eager["ms_per_step"], compiled["ms_per_step"])
    assert compiled["break_even_steps"] == (None if expected is None else pytest.approx(expected))
