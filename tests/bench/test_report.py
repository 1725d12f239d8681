"""The results page: sections merge in one JSON, the page shows every number with its command."""

import json

from cli_helpers import one_line_error, run

from genlab.bench.machine import machine_info
from genlab.bench.report import merge_quality, update_results, write_report


def run_section():
    training = [
        {
            "family": f,
            "batch_size": 8,
            "timed_steps": 2,
            "ours_images_per_s": 300.0,
            "reference_images_per_s": 100.0 * (i + 1),
            "ratio": 3.0 / (i + 1),
            "ratio_of_totals": 3.0 / (i + 1),
            "ours_data_ms_per_batch": 0.1,
            "reference_data_ms_per_batch": 0.5,
            "max_metric_difference": 0.0,
            "loss_key": "loss",
            "ours_losses": [3.0, 2.0, 1.5],
            "reference_losses": [3.0, 2.0, 1.5],
        }
        for i, f in enumerate(("vae", "gan"))
    ]
    training[0].update(
        {
            "fast_options": {"precision": "bfloat16", "channels_last": True},
            "fast_images_per_s": 250.0,
            "fast_ratio": 2.5,
            "fast_losses": [3.0, 2.01, 1.5],
            "fast_relative_difference": 0.0033,
        }
    )
    return {
        "command": "genlab bench run --families vae,gan",
        "machine": machine_info(),
        "load_average_after": [1.0, 1.0, 1.0],
        "matmul_n": 64,
        "matmul_gflops": 10.0,
        "training": training,
        "sampling": [{"model": "ddpm", "sampler": "DDIM-50", "n": 2, "images_per_s": 4.0, "seconds": 0.5}],
        "evaluation": {
            "n": 10,
            "reference_n": 10,
            "feature_seconds": 0.1,
            "images_per_s": 100.0,
            "fid_seconds": 0.01,
            "fid": 1.0,
        },
        "profile": [
            {
                "family": "vae",
                "batch_size": 8,
                "step_ms": 2.0,
                "gflop_per_step": 0.004,
                "gflop_per_s": 2.0,
                "fraction_of_matmul_peak": 0.2,
                "top_ops": [{"op": "aten::mm", "share": 0.5}],
            }
        ],
        "scaling": [
            {
                "family": "vae",
                "ms_by_batch": {"16": 1.0, "32": 2.0},
                "batch_for_sizes": 32,
                "ms_by_size": {"28": 2.0, "64": 5.0},
            },
            {
                "family": "dcgan",
                "ms_by_batch": {"16": 3.0, "32": 5.0},
                "batch_for_sizes": 32,
                "ms_by_size": {"28": 5.0, "64": None},
            },
        ],
    }


def test_sections_merge_and_the_page_shows_them(tmp_path):
    doc = tmp_path / "performance.md"
    update_results(doc.with_suffix(".json"), "run", run_section())
    check = {
        "step": 50,
        "train_wall_s": 3.0,
        "train_cpu_s": 2.0,
        "smallest_class_fraction": 0.0,
        "confident_fraction": 0.9,
        "fid": 80.0,
    }
    vae = {
        "label": "vae",
        "family": "vae",
        "preset": "small",
        "batch_size": 128,
        "budget_minutes": 0.5,
        "samples": 100,
        "reached": None,
        "checks": [check],
        "command": "genlab bench quality",
        "machine": machine_info(),
    }
    merge_quality(doc.with_suffix(".json"), [vae])
    met = {**check, "smallest_class_fraction": 0.05, "fid": 20.0, "train_wall_s": 120.0}
    lr = {
        **vae,
        "label": "vae (lr=0.01)",
        "reached": met,
        "checks": [met],
        "command": "genlab bench quality --set lr=0.01",
    }
    merge_quality(doc.with_suffix(".json"), [lr])
    results = merge_quality(
        doc.with_suffix(".json"), [{**lr, "command": "genlab bench quality --set lr=0.01 --again"}]
    )  # same label: replaced
    assert [r["label"] for r in results["quality"]["results"]] == ["vae", "vae (lr=0.01)"]
    assert set(json.loads(doc.with_suffix(".json").read_text())) == {"run", "quality"} == set(results)
    text = write_report(doc, results).read_text()
    assert "`genlab bench run --families vae,gan`" in text and "`genlab bench quality`" in text
    assert (
        "| vae | 8 | 2 | 300.0 | 100.0 | 3.00x | 3.00x | yes |" in text
        and "| gan | 8 | 2 | 300.0 | 200.0 | 1.50x | 1.50x | no |" in text
    )
    assert "| dcgan | 3.0 | 5.0 | 5.0 | n/a |" in text
    assert (
        "--set channels_last=true --set precision=bfloat16" in text
        and "| vae | 8 | 250.0 | 100.0 | 2.50x | yes | 0.0033 |" in text
    )
    assert "not met within 0.5 min" in text and "load average" in text
    assert "| vae (lr=0.01) | small | 128 | 50 | 2.00 | 0.03 | 20.0 |" in text and "--again`" in text
    assert (tmp_path / "performance_loss_curves.png").stat().st_size > 0 and (
        tmp_path / "performance_scaling.png"
    ).stat().st_size > 0


def test_bad_options_are_one_line_errors(capsys, tmp_path):
    code, _, err = run(capsys, "bench", "run", "--families", "nope", "--doc", tmp_path / "p.md")
    one_line_error(code, err, "nope")
    code, _, err = run(capsys, "bench", "run", "--threads", "0", "--doc", tmp_path / "p.md")
    one_line_error(code, err, "--threads")
    code, _, err = run(capsys, "bench", "run", "--fast", "precision=float16", "--doc", tmp_path / "p.md")
    one_line_error(code, err, "precision must be one of")
    code, _, err = run(capsys, "bench", "run", "--fast", "lr=1", "--doc", tmp_path / "p.md")
    one_line_error(code, err, "--fast takes")
    code, _, err = run(capsys, "bench", "run", "--threads", "0", "--doc", tmp_path / "p.md")
    one_line_error(code, err, "--threads")
    code, _, err = run(capsys, "bench", "quality", "--budget-minutes", "0", "--doc", tmp_path / "p.md")
    one_line_error(code, err, "--budget-minutes")


def quality_row(family, sets, checks, reached_step=None, budget=10):
    rows = [
        {
            "step": s,
            "train_wall_s": w,
            "train_cpu_s": 2 * w,
            "smallest_class_fraction": 0.05,
            "confident_fraction": c,
            "fid": f,
            "met": c >= 0.8,
        }
        for s, w, c, f in checks
    ]
    reached = next((c for c in rows if c["step"] == reached_step), None)
    label = family + (f" ({', '.join(f'{k}={v}' for k, v in sets.items())})" if sets else "")
    return {
        "label": label,
        "family": family,
        "sets": sets,
        "preset": "small",
        "batch_size": 128,
        "budget_minutes": budget,
        "samples": 100,
        "checks": rows,
        "reached": reached,
        "command": "genlab bench quality",
        "machine": machine_info(),
    }


def test_quality_targets_and_what_each_change_bought_are_computed_from_the_rows():
    from genlab.bench.report import render_quality

    results = [
        quality_row("dcgan", {}, [(250, 60.0, 0.5, 90.0), (500, 120.0, 0.7, 40.0)]),
        quality_row(
            "dcgan",
            {"precision": "bfloat16"},
            [(250, 30.0, 0.55, 85.0), (500, 60.0, 0.72, 38.0), (750, 90.0, 0.75, 30.0)],
        ),
        quality_row("cdcgan", {}, [(250, 200.0, 0.9, 50.0)], reached_step=250),
        quality_row("ddpm", {}, [(500, 2000.0, 0.5, 80.0)], budget=30),
    ]
    text = "\n".join(render_quality({"results": results}))
    assert "- GAN: **met** by cdcgan: the bar after 3.33 wall-minutes (<= 5), FID 50.0." in text
    assert "- diffusion: **not met**: no diffusion row reached the bar within 25 wall-minutes." in text
    # dcgan bf16 vs plain: 0.24 s/step plain, 0.12 s/step changed -> 2x; compared at step 500, the last common check.
    assert (
        "| dcgan (precision=bfloat16) | dcgan | 2.00x | not met vs not met | 38.0 vs 40.0 (step 500) | 72.0% vs 70.0% "
        "|" in text
    )
    results[2]["reached"]["train_wall_s"] = 400.0  # now over the GAN budget
    assert (
        "- GAN: **not met**: no GAN row reached the bar within 5 wall-minutes; the fastest, cdcgan, took 6.67."
        in "\n".join(render_quality({"results": results}))
    )
