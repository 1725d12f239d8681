"""``genlab export`` (a run's sampling path as ONNX / TorchScript files) and ``genlab filter``
(a translation model over a folder of images, with its frame rate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.app import DataDir, app, out


@app.command(
    "export",
    help="Export a run's sampling path (generators, VAE decoder and encoder, StyleGAN mapping and synthesis, "
    "diffusion denoisers with their schedule, translators) to DIR: the model files, manifest.json (inputs, outputs, "
    "conventions, schedule, source checkpoint SHA-256) and card.md. Every graph is checked against PyTorch "
    "(within 1e-4) before it is written.",
)
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by `genlab train`.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Export directory to create.")],
    fmt: Annotated[str, typer.Option("--format", help="onnx or torchscript.")] = "onnx",
    int8: Annotated[
        bool,
        typer.Option(
            "--int8",
            help="Post-training INT8 (ONNX Runtime: static for convolutions, dynamic for linear layers, calibrated "
            "on the run's data); refused when its samples fall below 20 dB PSNR against float32.",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace DIR if it exists.")] = False,
    checkpoint: Annotated[str, typer.Option(help="latest, best or a step number.")] = "latest",
    calibration: Annotated[int, typer.Option(help="--int8: calibration inputs drawn from the run's data.")] = 64,
    exporter: Annotated[
        str, typer.Option(help="ONNX exporter: legacy (TorchScript-based, fast) or dynamo (torch.export).")
    ] = "legacy",
    data_dir: DataDir = None,
) -> None:
    from genlab.errors import ConfigError
    from genlab.export.run import export_run

    if exporter not in ("legacy", "dynamo"):
        raise ConfigError(f"--exporter must be legacy or dynamo, got {exporter!r}")
    result = export_run(
        run_dir,
        output,
        fmt=fmt,
        int8=int8,
        force=force,
        which=checkpoint,
        calibration=calibration,
        exporter=exporter,
        data_dir=data_dir,  # type: ignore[arg-type]
    )
    manifest = result.manifest
    sizes = ", ".join(f"{g['file']} {g['bytes'] / 1e6:.2f} MB" for g in manifest["graphs"].values())
    out.print(f"wrote {output}: {sizes}, manifest.json, card.md")
    if manifest["quantization"]:
        q = manifest["quantization"]["quality"]
        out.print(f"INT8 cost: {q['psnr_db_vs_float32']} dB PSNR against float32 samples from the same noise")


@app.command(
    "filter",
    help="Run a translation model (pix2pix, cyclegan) over every image in --input, at batch 1, writing PNGs to -o "
    "and printing frames/s. SOURCE is an export directory, or a run (exported on the fly, INT8 ONNX unless "
    "--float32).",
)
def filter_(
    source: Annotated[Path, typer.Argument(help="An export directory (manifest.json) or a run directory.")],
    input_dir: Annotated[Path, typer.Option("--input", help="Folder of frames (png, jpg, bmp, webp), in name order.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the filtered frames.")],
    threads: Annotated[int, typer.Option(help="ONNX Runtime intra-op threads.")] = 2,
    float32: Annotated[bool, typer.Option("--float32", help="A run: export float32 instead of INT8.")] = False,
) -> None:
    from genlab.export.filter import filter_images

    report = filter_images(source, input_dir, output, int8=not float32, threads=threads)
    out.print(
        f"filtered {report.frames} frames into {output}: {report.model_fps:.1f} frames/s in the model (p50 "
        f"{report.percentile_ms(50):.1f} ms, p95 {report.percentile_ms(95):.1f} ms), {report.end_to_end_fps:.1f} "
        "frames/s end to end"
    )
