"""``genlab bench run|variants|quality``: performance benchmarks, printed and written to
docs/results/performance.md."""

from __future__ import annotations

import contextlib
import os
import shlex
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from rich.table import Table

from genlab.cli.app import DataDir, app, out
from genlab.cli.train import argv_of
from genlab.config import TrainConfig, coerce, field_types
from genlab.console import Progress
from genlab.errors import ConfigError
from genlab.models.registry import get_family

bench_app = typer.Typer(
    no_args_is_help=True,
    help="Performance benchmarks: ours vs the textbook reference interleaved in one process (ratios survive a busy "
    "machine), "
    "sampling and evaluation throughput, per-step profiles vs the matmul peak, step time vs batch and image size, "
    "and training time to a quality bar. Results go to docs/results/performance.md (+ .json, figures).",
)
app.add_typer(bench_app, name="bench")

Doc = Annotated[
    Path, typer.Option("--doc", help="Results page to (re)write; its .json beside it keeps every section.")
]
Threads = Annotated[
    int | None, typer.Option(help="torch threads (default: as torch starts, i.e. OMP_NUM_THREADS or the cores).")
]
DEFAULT_DOC = Path("docs/results/performance.md")


def _families(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError("--families needs at least one family name, e.g. gan,dcgan,vae,conv-vae,ddpm")
    for name in names:
        get_family(name)  # an unknown name is a ConfigError listing the known ones
    return names


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{option} must be comma-separated integers like 16,32,64; got {text!r}") from None
    if not values or min(values) < 1:
        raise ConfigError(f"{option} must list positive integers; got {text!r}")
    return values


def _speed_options(text: str) -> dict[str, Any]:
    """``--fast``: TrainConfig speed options as key=value pairs (checked like --set), or {} for none."""
    if text.strip().lower() in ("", "none"):
        return {}
    allowed = {"precision", "channels_last", "fused_optimizer"}
    pairs = [p.strip() for p in text.split(",") if p.strip()]
    options: dict[str, Any] = {}
    types = field_types(TrainConfig)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key.strip() not in allowed:
            raise ConfigError(f"--fast takes {', '.join(sorted(allowed))} as key=value pairs (or none); got {pair!r}")
        options[key.strip()] = coerce(key.strip(), types[key.strip()], value.strip())
    return options


def _setup(ctx: typer.Context, threads: int | None) -> str:
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    return "genlab bench " + shlex.join(argv_of(ctx))


@bench_app.command(
    "run", help="Training throughput vs the DataLoader reference, sampling, evaluation, profiles and scaling."
)
def run_benchmarks(
    ctx: typer.Context,
    families: Annotated[
        str, typer.Option(help="Comma-separated families to benchmark.")
    ] = "gan,dcgan,vae,conv-vae,ddpm",
    preset: Annotated[
        str, typer.Option(help="Size preset of every family (a family without it uses its defaults).")
    ] = "small",
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Batch size of the training comparison and the profiles.")
    ] = 64,
    rounds: Annotated[int, typer.Option(help="Interleaved rounds per family (the first is an untimed warm-up).")] = 4,
    steps_per_round: Annotated[int, typer.Option("--steps-per-round", help="Training steps per side per round.")] = 10,
    sample_n: Annotated[int, typer.Option("--sample-n", help="Images per GAN/VAE sampling measurement.")] = 1000,
    diffusion_n: Annotated[
        int, typer.Option("--diffusion-n", help="Images per DDIM-50 / DDPM-1000 measurement.")
    ] = 64,
    eval_n: Annotated[int, typer.Option("--eval-n", help="Images scored in the evaluation benchmark.")] = 10_000,
    ddpm_run: Annotated[
        Path | None,
        typer.Option("--ddpm-run", help="A trained ddpm run: also the FID of its DDIM-50 and DDPM-1000 samples."),
    ] = None,
    fid_n: Annotated[int, typer.Option("--fid-n", help="Samples per sampler for --ddpm-run's FID.")] = 1000,
    scaling_batches: Annotated[
        str, typer.Option("--scaling-batches", help="Batch sizes of the step-time scaling (at 28x28).")
    ] = "16,32,64,128",
    scaling_sizes: Annotated[
        str, typer.Option("--scaling-sizes", help="Image sizes of the step-time scaling (at batch 32).")
    ] = "28,32,64",
    fast: Annotated[
        str,
        typer.Option(
            "--fast",
            help="TrainConfig speed options of a third, 'ours fast' side (key=value,... of precision, channels_last, "
            "fused_optimizer), or none.",
        ),
    ] = "precision=bfloat16,fused_optimizer=true",
    threads: Threads = None,
    doc: Doc = DEFAULT_DOC,
    data_dir: DataDir = None,
) -> None:
    from genlab.bench.inference import evaluation_throughput, sampler_fids, sampling_throughput
    from genlab.bench.machine import machine_info, matmul_flops
    from genlab.bench.profiling import profile_step, step_time_grid
    from genlab.bench.report import update_results, write_report
    from genlab.bench.training import compare_training
    from genlab.data import load_dataset

    names = _families(families)
    fast_options = _speed_options(fast)
    batches, sizes = _ints(scaling_batches, "--scaling-batches"), _ints(scaling_sizes, "--scaling-sizes")
    if min(batch_size, rounds - 1, steps_per_round, sample_n, diffusion_n, eval_n, fid_n) < 1:
        raise ConfigError(
            "--batch-size, --steps-per-round, --sample-n, --diffusion-n, --eval-n and --fid-n must be >= 1, and "
            "--rounds >= 2"
        )
    command = _setup(ctx, threads)
    payload = {"command": command, "machine": machine_info(), "matmul_n": 1024}
    images, labels, info = load_dataset("mnist", "train", data_dir)
    test_images, _, _ = load_dataset("mnist", "test", data_dir)
    with Progress("bench run: matmul peak") as progress:
        payload["matmul_gflops"] = matmul_flops(payload["matmul_n"]) / 1e9
        payload["training"] = []
        for i, n in enumerate(names, 1):
            progress.stage(f"bench run: training comparison of {n} ({i} of {len(names)})")
            payload["training"].append(
                compare_training(
                    n,
                    images,
                    labels,
                    info,
                    preset=preset,
                    batch_size=batch_size,
                    rounds=rounds,
                    steps_per_round=steps_per_round,
                    fast=fast_options,
                )
            )
        table = Table(
            "family",
            "ours images/s",
            "reference images/s",
            "ratio",
            "max metric difference",
            "fast ratio",
            "fast relative loss difference",
        )
        for r in payload["training"]:
            extra = [f"{r['fast_ratio']:.2f}x", f"{r['fast_relative_difference']:.2g}"] if fast_options else ["", ""]
            table.add_row(
                r["family"],
                f"{r['ours_images_per_s']:.1f}",
                f"{r['reference_images_per_s']:.1f}",
                f"{r['ratio']:.2f}x",
                f"{r['max_metric_difference']:.3g}",
                *extra,
            )
        out.print(table)
        progress.stage("bench run: sampling throughput")
        payload["sampling"] = sampling_throughput(info, n_fast=sample_n, n_diffusion=diffusion_n, preset=preset)
        for r in payload["sampling"]:
            out.print(f"sampling {r['model']} {r['sampler']}: {r['images_per_s']:.2f} images/s")
        if ddpm_run is not None:
            payload["ddpm_run"] = str(ddpm_run)
            progress.stage(f"bench run: FID of {ddpm_run}'s samplers")
            payload["sampler_fids"] = sampler_fids(ddpm_run, test_images, n=fid_n)
            for r in payload["sampler_fids"]:
                out.print(f"{ddpm_run} {r['sampler']}: FID {r['fid']:.2f} at {r['images_per_s']:.2f} images/s")
        reference = test_images[: min(eval_n, test_images.shape[0])]
        scored = test_images[-min(eval_n, test_images.shape[0]) :]
        progress.stage("bench run: evaluation throughput")
        payload["evaluation"] = evaluation_throughput(scored, reference)
        out.print(
            f"evaluation: {payload['evaluation']['images_per_s']:.1f} images/s of features, FID in "
            f"{payload['evaluation']['fid_seconds']:.3f} s"
        )
        peak = payload["matmul_gflops"] * 1e9
        progress.stage("bench run: step profiles")
        payload["profile"] = [
            profile_step(n, info, preset=preset, batch_size=batch_size, peak_flops=peak) for n in names
        ]
        for p in payload["profile"]:
            out.print(
                f"profile {p['family']}: {p['step_ms']:.1f} ms/step, {p['gflop_per_s']:.2f} GFLOP/s = "
                f"{p['fraction_of_matmul_peak']:.0%} of matmul ({payload['matmul_gflops']:.1f} GFLOP/s)"
            )
        progress.stage("bench run: step-time scaling")
        payload["scaling"] = [step_time_grid(n, batch_sizes=batches, image_sizes=sizes, preset=preset) for n in names]
    payload["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    results = update_results(doc.with_suffix(".json"), "run", payload)
    out.print(f"wrote {write_report(doc, results)}")


@bench_app.command(
    "variants",
    help="Training-step variants (channels-last, bfloat16 autocast, torch.compile) vs the plain float32 step: "
    "ms/step, loss agreement, verdict.",
)
def training_variants(
    ctx: typer.Context,
    families: Annotated[str, typer.Option(help="Comma-separated MNIST families.")] = "dcgan,conv-vae,ddpm",
    variants: Annotated[
        str,
        typer.Option(
            "--variants",
            help="Comma-separated variants (eager, the baseline, is always run): eager, channels_last, bf16, compile, "
            "compile+channels_last, fused, bf16+fused, bf16+channels_last+fused, "
            "compile+bf16+channels_last+fused.",
        ),
    ] = "eager,channels_last,bf16,compile",
    preset: Annotated[
        str, typer.Option(help="Size preset of every family (a family without it uses its defaults).")
    ] = "small",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per batch.")] = 128,
    warmup: Annotated[
        int, typer.Option(help="Untimed warm-up steps per variant (a compiled variant compiles here).")
    ] = 3,
    rounds: Annotated[int, typer.Option(help="Interleaved timed rounds.")] = 4,
    steps_per_round: Annotated[int, typer.Option("--steps-per-round", help="Timed steps per variant per round.")] = 5,
    agree_steps: Annotated[
        int, typer.Option("--agree-steps", help="Steps from the common start whose losses are compared with eager's.")
    ] = 20,
    warm_cache: Annotated[
        bool,
        typer.Option(
            "--warm-cache",
            help="Let torch.compile reuse inductor's on-disk cache (default: a fresh, empty one, so compile times are "
            "a first run's).",
        ),
    ] = False,
    threads: Threads = None,
    doc: Doc = DEFAULT_DOC,
    data_dir: DataDir = None,
) -> None:
    from genlab.bench.machine import machine_info
    from genlab.bench.report import update_results, write_report
    from genlab.bench.variants import (
        bf16_supported,
        compare_variants,
        compiler_startup_seconds,
        fresh_compile_cache,
        offered,
        parse_variants,
        verdict,
    )
    from genlab.data import load_dataset

    names = _families(families)
    for name in names:
        if get_family(name).dataset != "mnist":
            raise ConfigError(
                f"bench variants trains on MNIST; {name} trains on {get_family(name).dataset}: choose MNIST families "
                "such as dcgan,conv-vae,ddpm"
            )
    chosen, skipped = offered(parse_variants([v.strip() for v in variants.split(",") if v.strip()]))
    if min(batch_size, warmup, rounds, steps_per_round, agree_steps) < 1:
        raise ConfigError("--batch-size, --warmup, --rounds, --steps-per-round and --agree-steps must be >= 1")
    command = _setup(ctx, threads)
    compiles = any(v.compile for v in chosen)
    payload = {
        "command": command,
        "machine": machine_info(),
        "bf16_supported": bf16_supported(),
        "skipped": skipped,
        "preset": preset,
        "batch_size": batch_size,
        "warmup": warmup,
        "rounds": rounds,
        "steps_per_round": steps_per_round,
        "agree_steps": agree_steps,
        "fresh_compile_cache": compiles and not warm_cache,
    }
    for name, why in skipped.items():
        out.print(f"skipped {name}: {why}")
    images, labels, info = load_dataset("mnist", "train", data_dir)
    with fresh_compile_cache() if payload["fresh_compile_cache"] else contextlib.nullcontext():
        with Progress("bench variants: compiler start-up") as progress:
            payload["compiler_startup_seconds"] = compiler_startup_seconds() if compiles else None
            payload["results"] = []
            for i, n in enumerate(names, 1):
                progress.stage(f"bench variants: {n} ({i} of {len(names)})")
                payload["results"].append(
                    compare_variants(
                        n,
                        images,
                        labels,
                        info,
                        variants=chosen,
                        preset=preset,
                        batch_size=batch_size,
                        warmup=warmup,
                        rounds=rounds,
                        steps_per_round=steps_per_round,
                        agree_steps=agree_steps,
                    )
                )
    table = Table(
        "family", "variant", "ms/step", "images/s", "vs eager", "compile s", "break-even steps", "max loss difference"
    )
    for r in payload["results"]:
        for row in r["variants"]:
            compiled = row["compile_seconds"] is not None
            table.add_row(
                r["family"],
                row["variant"],
                f"{row['ms_per_step']:.2f}",
                f"{row['images_per_s']:.1f}",
                f"{row['vs_eager']:.2f}x",
                f"{row['compile_seconds']:.1f}" if compiled else "",
                ("never" if row["break_even_steps"] is None else f"{row['break_even_steps']:.0f}") if compiled else "",
                f"{row['max_loss_difference']:.3g}",
            )
    out.print(table)
    for r in payload["results"]:
        v = verdict(r)
        out.print(
            f"{r['family']}: wins: {', '.join(v['wins']) or 'none'}; does not win: "
            f"{', '.join(v['does_not_win']) or 'none'}"
        )
    payload["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    results = update_results(doc.with_suffix(".json"), "variants", payload)
    out.print(f"wrote {write_report(doc, results)}")


@bench_app.command(
    "quality",
    help="Training time (CPU and wall) until the classifier sees every digit (>= 2 %) and >= 80 % confident samples.",
)
def quality(
    ctx: typer.Context,
    families: Annotated[str, typer.Option(help="Comma-separated MNIST families.")] = "dcgan,ddpm",
    preset: Annotated[str, typer.Option(help="Size preset of every family.")] = "small",
    budget_minutes: Annotated[
        float, typer.Option("--budget-minutes", help="Training wall-time budget per family (checked at each check).")
    ] = 25.0,
    check_every: Annotated[int, typer.Option("--check-every", help="Training steps between checks.")] = 200,
    samples: Annotated[int, typer.Option(help="Samples classified per check.")] = 1000,
    reference_n: Annotated[int, typer.Option("--reference-n", help="Test images the FID compares with.")] = 10_000,
    runs: Annotated[Path, typer.Option("--runs", help="Folder for the training runs (one per family).")] = Path(
        "runs/bench-quality"
    ),
    threads: Threads = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Recipe override for every family: --set key=value (model or training config key; repeatable).",
        ),
    ] = None,
    doc: Doc = DEFAULT_DOC,
    data_dir: DataDir = None,
) -> None:
    from genlab.bench.machine import machine_info
    from genlab.bench.quality import time_to_quality
    from genlab.bench.report import merge_quality, write_report
    from genlab.config import parse_sets

    names = _families(families)
    if budget_minutes <= 0 or min(check_every, samples, reference_n) < 1:
        raise ConfigError("--budget-minutes must be > 0 and --check-every, --samples, --reference-n >= 1")
    if runs.exists() and any(runs.iterdir()):
        raise ConfigError(f"{runs} is not empty; choose another --runs folder")
    sets = parse_sets(set_ or [])
    command = _setup(ctx, threads)
    for i, name in enumerate(names, 1):  # each family's result is stored as soon as it is measured
        machine = machine_info()
        with Progress(f"bench quality: training {name} until the checks pass ({i} of {len(names)})"):
            r = time_to_quality(
                name,
                runs / name,
                preset=preset,
                budget_minutes=budget_minutes,
                check_every=check_every,
                samples=samples,
                reference_n=reference_n,
                data_dir=data_dir,
                sets=sets,
            )
        entry = {
            **r,
            "command": command,
            "machine": machine,
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
        }
        written = write_report(doc, merge_quality(doc.with_suffix(".json"), [entry]))
        last = r["checks"][-1] if r["checks"] else None
        status = (
            f"met at step {r['reached']['step']} ({r['reached']['train_cpu_s'] / 60:.2f} CPU-min)"
            if r["reached"]
            else "not met"
        )
        out.print(
            f"{name}: {status}"
            + (
                f"; last check step {last['step']}: smallest class {last['smallest_class_fraction']:.1%}, confident "
                f"{last['confident_fraction']:.1%}, FID {last['fid']:.1f}"
                if last
                else ""
            )
        )
        out.print(f"wrote {written}")


@bench_app.command(
    "latency",
    help="Batch-1 latency (p50/p95/p99) and throughput at batches 1, 8 and 64 of each run's main graph in PyTorch "
    "eager, TorchScript, ONNX Runtime float32 and INT8, at 1 and 2 threads, with model size and peak memory; "
    "written to docs/results/deploy.md (+ .json). Needs the export extra.",
)
def latency(
    ctx: typer.Context,
    runs: Annotated[list[Path], typer.Argument(help="Run directories to measure (one section each).")],
    calls: Annotated[int, typer.Option(help="Timed batch-1 calls per runtime and thread count (>= 200).")] = 200,
    warmup: Annotated[int, typer.Option(help="Untimed calls first.")] = 20,
    threads: Annotated[str, typer.Option(help="Thread counts, comma-separated.")] = "1,2",
    batches: Annotated[str, typer.Option(help="Batch sizes for throughput, comma-separated.")] = "1,8,64",
    runtimes: Annotated[
        str, typer.Option(help="Comma-separated: pytorch, torchscript, onnx-fp32, onnx-int8.")
    ] = "pytorch,torchscript,onnx-fp32,onnx-int8",
    doc: Annotated[Path, typer.Option("--doc", help="Results page to (re)write; deploy.json beside it.")] = Path(
        "docs/results/deploy.md"
    ),
) -> None:
    from genlab.bench.deploy_report import store, write_deploy
    from genlab.bench.latency import RUNTIMES, bench_run
    from genlab.bench.machine import machine_info
    from genlab.export.runtime import require_onnxruntime

    if calls < 200:
        raise ConfigError(f"--calls must be >= 200 for stable percentiles, got {calls}")
    chosen = tuple(r.strip() for r in runtimes.split(",") if r.strip())
    unknown = [r for r in chosen if r not in RUNTIMES]
    if unknown or not chosen:
        raise ConfigError(f"--runtimes takes {', '.join(RUNTIMES)}; got {runtimes!r}")
    require_onnxruntime()
    thread_counts, batch_sizes = _ints(threads, "--threads"), _ints(batches, "--batches")
    command = shlex.join(
        [
            "genlab",
            "bench",
            "latency",
            *map(str, runs),
            "--calls",
            str(calls),
            "--warmup",
            str(warmup),
            "--threads",
            threads,
            "--batches",
            batches,
            "--runtimes",
            runtimes,
        ]
    )
    for run_dir in runs:
        machine = machine_info()
        result = bench_run(
            run_dir, runtimes=chosen, threads=thread_counts, calls=calls, warmup=warmup, batches=batch_sizes
        )
        machine["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
        entry = {"command": command, "machine": machine, "result": result}
        written = write_deploy(doc, store(doc.with_suffix(".json"), "latency", run_dir.name, entry))
        best = min((v["p95_ms"], name, t) for name, r in result["runtimes"].items() for t, v in r["threads"].items())
        out.print(f"{run_dir}: fastest p95 {best[0]:.2f} ms ({best[1]}, {best[2]} threads); wrote {written}")
