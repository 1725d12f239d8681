"""INT8 quality cost of exported models and the real-time filter's numbers, into docs/results/deploy.md.

    python benchmarks/deploy.py --generators runs/q-dcgan,runs/q-conv-vae,runs/q-ddpm \\
        --translators runs/q-pix2pix,runs/filter-mobile --filter runs/filter-mobile

For each generator run: export float32 and INT8 ONNX, draw n images through each (same noise:
the family's sampling path around the exported graphs), and score both with `genlab eval --json`
(FID, precision, recall against the test split, equal n). For each translator run: translate the
held-out test inputs with both and score L1 / PSNR / SSIM against the true targets (genlab's
``translation_scores``, the trainer's test metrics; `genlab eval` has no paired metric). For the
filter: INT8 and float32 batch-1 latency (p50/p95 over 200 calls after 20 warm-up calls, the two
runtimes interleaved in rounds so the machine's load hits both alike) at 1 and 2 threads, file
sizes, and the INT8 quality cost. Also records each export's parity against PyTorch.
The latency tables of every runtime come from `genlab bench latency` (run it after this script).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from genlab.bench.deploy_report import store, write_deploy
from genlab.bench.machine import machine_info
from genlab.data import save_samples, to_uint8
from genlab.data.translation import translation_ground_truth
from genlab.export import export_run, load_exportable
from genlab.export.runtime import onnx_runner, onnx_sessions
from genlab.models.translate_parts import translation_scores

COMMAND = "python benchmarks/deploy.py " + shlex.join(sys.argv[1:])


def exports(run: Path, tmp: Path) -> dict[str, dict]:
    """fp32 and int8 ONNX exports of ``run``: {kind: {"dir", "manifest", "files"}}."""
    found = {}
    for kind, int8 in (("fp32", False), ("int8", True)):
        out = tmp / f"{run.name}-{kind}"
        manifest = export_run(run, out, int8=int8).manifest
        found[kind] = {
            "dir": out,
            "manifest": manifest,
            "files": {k: out / g["file"] for k, g in manifest["graphs"].items()},
        }
    return found


def mb(manifest: dict) -> float:
    return sum(g["bytes"] for g in manifest["graphs"].values()) / 1e6


def genlab_eval(path: Path, n: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "genlab", "eval", str(path), "--json", "-n", str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def generator_quality(run: Path, n: int, tmp: Path) -> list[str]:
    ex, family, cfg, _ = load_exportable(run)
    made = exports(run, tmp)
    rows = []
    for kind in ("fp32", "int8"):
        runner = onnx_runner(made[kind]["files"], threads=2)
        images, start = [], time.perf_counter()
        generator = torch.Generator().manual_seed(0)
        for lo in range(0, n, 250):
            images.append(to_uint8(ex.generate(runner, min(250, n - lo), generator)))
        seconds = time.perf_counter() - start
        path = tmp / f"{run.name}-{kind}.npz"
        labels = np.arange(n) % family.info.num_classes if family.conditional else None
        save_samples(path, np.concatenate(images), labels)
        scores = genlab_eval(path, n)
        rows.append((kind, scores, mb(made[kind]["manifest"]), seconds))
    fp32, int8 = rows
    parity = max(g["parity_max_abs_vs_pytorch"] for g in made["fp32"]["manifest"]["graphs"].values())
    psnr = made["int8"]["manifest"]["quantization"]["quality"]["psnr_db_vs_float32"]
    lines = [
        f"{cfg.family} run `{run}` (step {made['fp32']['manifest']['source']['step']}), n = {n} samples each, "
        f"same noise; float32 export within {parity:.1e} of PyTorch; INT8 samples {psnr} dB PSNR against the "
        "float32 ones (16 samples).",
        "",
        "| export | FID | precision | recall | model MB | sampling s (2 threads) |",
        "|---|---|---|---|---|---|",
    ]
    for kind, s, size, seconds in rows:
        lines.append(
            f"| ONNX {kind} | {s['fid']:.2f} | {s['precision']:.3f} | {s['recall']:.3f} | {size:.3f} | {seconds:.1f} |"
        )
    lines.append(
        f"\nINT8 cost: FID {int8[1]['fid'] - fp32[1]['fid']:+.2f}, precision "
        f"{int8[1]['precision'] - fp32[1]['precision']:+.3f}, recall {int8[1]['recall'] - fp32[1]['recall']:+.3f}; "
        f"size x{int8[2] / fp32[2]:.2f}."
    )
    return lines


def translator_quality(run: Path, tmp: Path) -> tuple[list[str], dict]:
    ex, _, cfg, _ = load_exportable(run)
    made = exports(run, tmp)
    name = ex.conventions.get("sample_graph", "generator")
    data_set = ex.conventions.get("pairs") or ex.conventions["domains"]
    a, b, _ = translation_ground_truth(data_set)
    m = min(len(a), 500)
    x = a[:m].astype(np.float32) / 127.5 - 1
    target = torch.from_numpy(b[:m].astype(np.float32) / 127.5 - 1)
    scores, outputs = {}, {}
    for kind in ("fp32", "int8"):
        runner = onnx_runner(made[kind]["files"], threads=2)
        outputs[kind] = np.concatenate([runner(name, {"images": x[i : i + 50]})[0] for i in range(0, m, 50)])
        sums = translation_scores(torch.from_numpy(outputs[kind]), target)
        scores[kind] = {k: v / m for k, v in sums.items()}
    f, q = scores["fp32"], scores["int8"]
    between = translation_scores(torch.from_numpy(outputs["int8"]), torch.from_numpy(outputs["fp32"]))
    lines = [
        f"{cfg.family} run `{run}` (step {made['fp32']['manifest']['source']['step']}), {m} held-out pairs of "
        f"`{data_set}`, scored against the true targets ([0, 1] scale).",
        "",
        "| export | L1 | PSNR dB | SSIM | model MB |",
        "|---|---|---|---|---|",
        f"| ONNX fp32 | {f['l1']:.4f} | {f['psnr']:.2f} | {f['ssim']:.3f} | {mb(made['fp32']['manifest']):.3f} |",
        f"| ONNX int8 | {q['l1']:.4f} | {q['psnr']:.2f} | {q['ssim']:.3f} | {mb(made['int8']['manifest']):.3f} |",
        "",
        f"INT8 cost: L1 {q['l1'] - f['l1']:+.4f}, PSNR {q['psnr'] - f['psnr']:+.2f} dB, SSIM "
        f"{q['ssim'] - f['ssim']:+.3f}; "
        f"INT8 outputs against float32 outputs: {between['psnr'] / m:.1f} dB PSNR.",
    ]
    return lines, {"made": made, "name": name, "x": x, "scores": scores}


def filter_latency(found: dict, calls: int = 200, warmup: int = 20) -> list[str]:
    """Batch-1 p50/p95 of the filter in INT8 and float32 ONNX, interleaved in rounds of 10 calls."""
    name, x = found["name"], found["x"][:1]
    lines = [
        "| filter | threads | p50 ms | p95 ms | p99 ms | frames/s at p50 | file MB |",
        "|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for threads in (1, 2):
        sessions = {k: onnx_sessions({name: found["made"][k]["files"][name]}, threads)[name] for k in ("int8", "fp32")}
        times: dict[str, list[float]] = {k: [] for k in sessions}
        for s in sessions.values():
            for _ in range(warmup):
                s.run(None, {"images": x})
        for _ in range(calls // 10):
            for k, s in sessions.items():
                for _ in range(10):
                    start = time.perf_counter()
                    s.run(None, {"images": x})
                    times[k].append(time.perf_counter() - start)
        for k in ("int8", "fp32"):
            p50, p95, p99 = (float(np.percentile(times[k], q)) * 1e3 for q in (50, 95, 99))
            lines.append(
                f"| ONNX {k} | {threads} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {1e3 / p50:.0f} | "
                f"{mb(found['made'][k]['manifest']):.3f} |"
            )
            if k == "int8":
                size = mb(found["made"][k]["manifest"])
                met = p95 <= 33.0 and size <= 12.0
                verdicts.append(
                    f"{threads} thread{'s' if threads > 1 else ''}: p95 {p95:.1f} ms, {size:.2f} MB -> "
                    f"{'met' if met else 'NOT met'}{' (and the 20 ms aim)' if met and p95 <= 20.0 else ''}"
                )
    target = "Target (30 frames/s: INT8 p95 <= 33 ms, aim <= 20 ms, file <= 12 MB): "
    return [*lines, "", target + "; ".join(verdicts) + "."]


def exporter_comparison(run: Path, tmp: Path) -> list[str]:
    """Wall time and parity of the two ONNX exporters on one run (each timed once, after a warm-up export)."""
    export_run(run, tmp / "warm", force=True)
    rows = []
    for exporter in ("legacy", "dynamo"):
        start = time.perf_counter()
        manifest = export_run(run, tmp / f"x-{exporter}", exporter=exporter, force=True).manifest
        seconds = time.perf_counter() - start
        parity = max(g["parity_max_abs_vs_pytorch"] for g in manifest["graphs"].values())
        rows.append(f"| {manifest['exporter']} | {seconds:.1f} | {parity:.1e} |")
    return [
        f"ONNX exporters on `{run}` (whole `export_run`: export, parity check, manifest, card):",
        "",
        "| exporter | export s | max abs vs PyTorch |",
        "|---|---|---|",
        *rows,
        "",
        "`genlab export` uses the TorchScript-based exporter by default (faster here, same parity); "
        "`--exporter dynamo` selects torch.export + onnxscript (tests/export/test_parity.py checks both).",
    ]


def torch_ao_comparison(run: Path, tmp: Path, calls: int = 300) -> list[str]:
    """Dynamic INT8 of the linear layers, torch.ao vs ONNX Runtime, on an MLP generator (batch 1, 1 thread)."""
    from torch.ao.quantization import quantize_dynamic

    ex, *_ = load_exportable(run)
    made = exports(run, tmp)
    graph = ex.graphs["generator"]
    torch.set_num_threads(1)
    ao = quantize_dynamic(graph.module, {torch.nn.Linear}, dtype=torch.qint8)
    inputs = ex.example_inputs("generator", 1, torch.Generator().manual_seed(0))
    args = [torch.from_numpy(inputs[s.name]) for s in graph.inputs]
    ort = {k: onnx_sessions({"generator": made[k]["files"]["generator"]}, 1)["generator"] for k in ("fp32", "int8")}
    calls_by = {
        "PyTorch fp32": lambda: graph.module(*args),
        "torch.ao dynamic INT8": lambda: ao(*args),
        "ONNX Runtime fp32": lambda: ort["fp32"].run(None, inputs),
        "ONNX Runtime INT8": lambda: ort["int8"].run(None, inputs),
    }
    times: dict[str, list[float]] = {k: [] for k in calls_by}
    with torch.inference_mode():
        reference = graph.module(*args).numpy()
        errors = {
            "torch.ao dynamic INT8": float(np.abs(ao(*args).numpy() - reference).max()),
            "ONNX Runtime INT8": float(np.abs(ort["int8"].run(None, inputs)[0] - reference).max()),
        }
        for _ in range(calls // 10):  # interleaved in rounds: the machine's load hits all four alike
            for k, call in calls_by.items():
                for _ in range(10):
                    start = time.perf_counter()
                    call()
                    times[k].append(time.perf_counter() - start)
    rows = [
        f"| {k} | {np.percentile(t, 50) * 1e3:.3f} | {np.percentile(t, 95) * 1e3:.3f} | {errors.get(k, 0.0):.1e} |"
        for k, t in times.items()
    ]
    return [
        f"torch.ao against ONNX Runtime for the linear layers: `{run}` ({ex.family_name} generator, MLP), batch 1, "
        "1 thread, interleaved calls:",
        "",
        "| runtime | p50 ms | p95 ms | max abs vs PyTorch fp32 |",
        "|---|---|---|---|",
        *rows,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", default="", help="comma-separated generator runs (FID / precision / recall)")
    parser.add_argument("--translators", default="", help="comma-separated translation runs (L1 / PSNR)")
    parser.add_argument("--filter", type=Path, help="the pix2pix arch=mobile run: latency of the real-time filter")
    parser.add_argument("--exporters", type=Path, help="a run to time the legacy and dynamo ONNX exporters on")
    parser.add_argument("--torch-ao", type=Path, help="an MLP generator run (vae, gan) to compare torch.ao INT8 on")
    parser.add_argument("-n", type=int, default=2000, help="samples per generator export")
    parser.add_argument("--doc", type=Path, default=Path("docs/results/deploy.md"))
    args = parser.parse_args()
    json_path = args.doc.with_suffix(".json")
    with tempfile.TemporaryDirectory() as tmp:
        if args.exporters is not None:
            machine = machine_info()
            lines = exporter_comparison(args.exporters, Path(tmp))
            machine["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
            store(json_path, "notes", "exporters", {"command": COMMAND, "machine": machine, "lines": lines})
            print("\n".join(lines))
        if args.torch_ao is not None:
            machine = machine_info()
            lines = torch_ao_comparison(args.torch_ao, Path(tmp))
            machine["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
            store(json_path, "notes", "torch-ao", {"command": COMMAND, "machine": machine, "lines": lines})
            print("\n".join(lines))
        for run in [Path(p) for p in args.generators.split(",") if p]:
            machine = machine_info()
            lines = generator_quality(run, args.n, Path(tmp))
            machine["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
            store(json_path, "quality", run.name, {"command": COMMAND, "machine": machine, "lines": lines})
            print("\n".join(lines))
        for run in [Path(p) for p in args.translators.split(",") if p]:
            machine = machine_info()
            lines, found = translator_quality(run, Path(tmp))
            if args.filter is not None and run.resolve() == args.filter.resolve():
                lines += ["", "Real-time filter, batch 1, 256 x 256 RGB:", "", *filter_latency(found)]
            machine["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
            store(json_path, "quality", run.name, {"command": COMMAND, "machine": machine, "lines": lines})
            print("\n".join(lines))
    results = json.loads(json_path.read_text())
    print(f"wrote {write_deploy(args.doc, results)}")


if __name__ == "__main__":
    main()
