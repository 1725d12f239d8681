"""docs/results/deploy.md: the latency section (``genlab bench latency``) and the INT8 quality and
real-time filter sections (``benchmarks/deploy.py``), all rendered from deploy.json beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genlab.atomic import atomic_write_text

RUNTIME_NAMES = {
    "pytorch": "PyTorch eager",
    "torchscript": "TorchScript",
    "onnx-fp32": "ONNX Runtime fp32",
    "onnx-int8": "ONNX Runtime INT8",
}


EXPORTED = [
    "## What `genlab export` writes",
    "",
    "- GANs (gan, cgan, dcgan, cdcgan, wgan, wgan-gp, dcgan64, attr-gan): the generator (EMA weights where the run "
    "samples from them), z and labels in, images in [-1, 1] out. A run with `rejection=drs` is refused: its samples "
    "come from a rejection loop against a critic.",
    "- VAEs (vae, conv-vae, cvae): the decoder mean (`generator`) and the encoder (mu, logvar).",
    "- stylegan-lite: `mapping` (z and truncation psi in, one w per layer out) and `synthesis` (styles and one noise "
    "image per layer in); the grouped modulated convolution is exported in its equivalent ungrouped form.",
    "- ddpm / ldm / text-ddpm: the denoiser (always outputting eps), plus the LDM's VAE decoder, plus text-ddpm's "
    "built-in text encoder (token ids and mask in; the manifest carries the vocabulary). A text-ddpm run with the "
    "frozen MiniLM encoder is refused: MiniLM's weights live in sentence-transformers, outside the checkpoint.",
    "- pix2pix and cyclegan: the generators, deterministic (pix2pix's test-time dropout is off in the export).",
    "- ddpm-progressive and ddpm-consistency (the few-step students of `genlab distill`): the student's `x0` graph "
    "(its clean-data estimate, the consistency function's scalings inside), plus an ldm teacher's VAE decoder; the "
    "manifest lists the few step indices the sampler visits, and the few steps (DDIM on the trailing grid, or "
    "multistep consistency sampling with its re-noising) run outside the graph.",
    "- numpy-gan is refused: it samples in NumPy and has no torch network.",
    "",
    "INT8: ONNX Runtime's `quantize_static` (QDQ, per-channel int8 weights, uint8 activations, MinMax calibration on "
    "64 inputs drawn from the run's training data) on convolutions, then `quantize_dynamic` on MatMul/Gemm. We chose "
    "ONNX Runtime over torch.ao: the deployed runtime is ONNX Runtime, a torch.ao-quantised module neither exports to "
    "ONNX nor runs without PyTorch, torch.ao.quantization is deprecated in torch 2.13, and for the linear layers the "
    "comparison below measured ONNX Runtime faster and closer to float32 (torch.ao's static convolution mode, which "
    "needs QuantStub edits in every network, was not built). An INT8 export whose samples fall below 20 dB PSNR "
    "against the float32 export's (same noise) is refused with the measured number.",
    "",
]


RUNS = [
    "## The runs measured",
    "",
    "- `runs/q-dcgan`: `genlab train dcgan --preset small --steps 100000 --batch-size 64 --set max_minutes=50` "
    "(its wall-clock budget, max_minutes, raised to 50 for a resume, stopped it at step 1249).",
    "- `runs/filter-mobile`, the real-time filter: `OMP_NUM_THREADS=1 genlab train pix2pix --preset mobile --dataset "
    "shapes-edges256 --steps 5000 --batch-size 4 --set adversarial=false --set lr=0.001 --set max_minutes=40` (L1 "
    "only, the paper's ablation, to fit a budget of minutes; stopped at step 1715). One thread: on this shared "
    "machine two torch threads made each step about 8x slower.",
    "- `runs/lat-*`: one training step at the `small` preset (`genlab train NAME --preset small --steps 1 "
    "--batch-size 8`); latency and memory do not depend on the weights.",
    "",
]


def store(json_path: Path, section: str, key: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Put ``payload`` at results[section][key] (one entry per run or measurement) and save atomically."""
    results = json.loads(json_path.read_text()) if json_path.is_file() else {}
    results.setdefault(section, {})[key] = payload
    atomic_write_text(json_path, json.dumps(results, indent=1, sort_keys=True) + "\n")
    return results


def _stamp(m: dict[str, Any]) -> str:
    return (
        f"{m['date']}, {m['cores']} cores ({m['cpu']}), torch {m['torch']}, load average (1/5/15 min) "
        f"{' / '.join(str(v) for v in m['load_average'])} before, "
        f"{' / '.join(str(v) for v in m.get('load_average_after', []))} after"
    )


def render_latency(entries: dict[str, Any]) -> list[str]:
    lines = [
        "## Latency and throughput per runtime",
        "",
        "Batch-1 latency of the graph a sampler calls (a diffusion model calls its denoiser once per step, twice "
        "with guidance w not in {0, 1}); throughput in images (or denoiser calls) per second at batches 1, 8 and 64; "
        "model file size; peak resident memory of a worker process that loads only that model and runs these "
        "measurements, above what its imports (Python, torch, genlab) hold.",
        "",
    ]
    for key, e in sorted(entries.items()):
        r = e["result"]
        size = ", ".join(f"{k}={v}" for k, v in r["config"].items())
        lines += [
            f"### {r['family']} (`{key}`): {r['graph']}, images {'x'.join(map(str, r['image_shape']))}, {size}",
            "",
            f"`{e['command']}`; {_stamp(e['machine'])}.",
            "",
            "Parity of every graph against PyTorch on the same inputs (batch 3): "
            + (
                ", ".join(f"{RUNTIME_NAMES[k]} {v:.1e}" for k, v in r.get("parity_max_abs_vs_pytorch", {}).items())
                or "not measured"
            )
            + " (max abs; the exports are refused above 1e-4).",
            "",
            "| runtime | threads | p50 ms | p95 ms | p99 ms | img/s b=1 | img/s b=8 | img/s b=64 | model MB "
            "| peak MB |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for runtime, m in r["runtimes"].items():
            for t, v in m["threads"].items():
                ips = v["images_per_s"]
                lines.append(
                    f"| {RUNTIME_NAMES[runtime]} | {t} | {v['p50_ms']:.2f} | {v['p95_ms']:.2f} | {v['p99_ms']:.2f} | "
                    f"{ips.get('1', '-')} | {ips.get('8', '-')} | {ips.get('64', '-')} | {m['model_mb']:.3f} | "
                    f"{m['peak_rss_mb_over_baseline']:.0f} |"
                )
        lines.append("")
    return lines


def render_quality(entries: dict[str, Any]) -> list[str]:
    lines = ["## INT8 quality cost", ""]
    for key, e in sorted(entries.items()):
        lines += [f"### {key}", "", f"`{e['command']}`; {_stamp(e['machine'])}.", "", *e["lines"], ""]
    return lines


def write_deploy(doc: Path, results: dict[str, Any]) -> Path:
    lines = [
        "# Deployment: exported models, INT8, latency",
        "",
        "Every number below comes from `genlab bench latency` (latency section) or `benchmarks/deploy.py` (the "
        f"quality and filter sections); the raw numbers are in `{doc.with_suffix('.json').name}`. **The machine is "
        "shared with other engineers' work** (2 cores; the load averages next to each table come from `uptime`): "
        "every latency is an upper bound under that load, and 2 threads often lose to 1 when the other core is busy.",
        "",
    ]
    lines += EXPORTED + RUNS
    if "notes" in results:
        lines += ["## Exporter and quantiser choices, measured", ""]
        for _, e in sorted(results["notes"].items()):
            lines += [*e["lines"], "", f"`{e['command']}`; {_stamp(e['machine'])}.", ""]
    if "quality" in results:
        lines += render_quality(results["quality"])
    if "latency" in results:
        lines += render_latency(results["latency"])
    return atomic_write_text(doc, "\n".join(lines) + "\n")
