"""text-ldm on captions32: its first stage's reconstructions, and its prompts scored as benchmarks/text.py scores them.

    OMP_NUM_THREADS=1 python benchmarks/text_ldm.py --autoencoder runs/text-ldm-ae \\
        --model text-ldm/builtin=runs/text-ldm-builtin --time-log runs/text-ldm-ae.log \\
        --time-log runs/text-ldm-builtin.log -n 32 --guidance 1,3,6

1. The frozen autoencoder: mean squared error and PSNR of its decoder mean on the first
   ``--recon-images`` images of the captions32 test split (pixels in [0, 1]); and the real
   renders of the benchmark's prompts (the "real images" row's second draw) passed through it
   and read by the shapes64 classifier: what a perfect latent model could score at best.
2. Every ``--model`` through :func:`text.measure` (same prompts, seeds, classifier, FID).
3. CPU and wall seconds of the training commands, read from the ``/usr/bin/time -v`` output at
   the end of each ``--time-log``.

Writes runs/text-ldm-bench/results.json and docs/results/text-ldm.md. The text-ddpm and
attr-gan rows are not re-measured (their runs are not on this machine): the page copies
their lines verbatim from docs/results/text.md. ``--render`` rewrites the page from the JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/text.py: the scoring this page shares
import text  # noqa: E402

from genlab.atomic import atomic_write_text  # noqa: E402
from genlab.data import load_dataset, save_grid, to_uint8  # noqa: E402
from genlab.data.captions import render_attributes  # noqa: E402
from genlab.eval.metrics import feature_statistics  # noqa: E402
from genlab.eval.shapes_features import load_shapes_cnn  # noqa: E402
from genlab.runs.loading import load_family  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "results" / "text-ldm.md"
SAVED = ROOT / "runs" / "text-ldm-bench" / "results.json"
QUOTED = ("text-ddpm/builtin", "attr-gan", "real images")  # rows copied from docs/results/text.md
TRAIN_COMMANDS = (
    "genlab train spatial-vae --dataset captions32 --preset small --steps 3000 --batch-size 32 --out runs/text-ldm-ae "
    "--set checkpoint_every=500",
    "genlab train text-ldm --steps 20000 --batch-size 32 --out runs/text-ldm-builtin "
    "--set autoencoder=runs/text-ldm-ae --set text_encoder=builtin --set sample_steps=25 --set max_minutes=50 "
    "--set grid_size=16 --set sample_every=2000 --set checkpoint_every=500 --set keep_last=40",
)


@torch.no_grad()
def reconstruction(run_dir: str, n_images: int, n: int) -> dict:
    """MSE / PSNR on the test split, and the classifier's reading of reconstructed prompt renders."""
    vae, _, meta = load_family(run_dir, "latest")
    vae.train(False)
    images, _, _ = load_dataset("captions32", "test")
    x = torch.from_numpy(np.array(images[:n_images])).float() / 255  # (N, 3, 32, 32) in [0, 1]
    recon = torch.cat([(vae.decode_mean(vae.encode(b)[0]) + 1) / 2 for b in x.split(250)])
    mse = float(((recon - x) ** 2).mean())
    classifier = load_shapes_cnn()
    rows = []
    for name, attrs in text.prompts().items():
        real = {a: render_attributes(a, n, seed=100 + i) for i, a in enumerate(attrs)}
        stats = feature_statistics(np.concatenate([text.read(classifier, v)[0] for v in real.values()]))
        twin = {a: render_attributes(a, n, seed=200 + i) for i, a in enumerate(attrs)}
        through = {
            a: to_uint8(vae.decode_mean(vae.encode(torch.from_numpy(v).float() / 255)[0])) for a, v in twin.items()
        }
        rows.append(
            {
                "model": "autoencoder reconstructions",
                "set": name,
                "guidance": None,
                **text.score(classifier, through, stats),
            }
        )
    return {
        "run": run_dir,
        "step": meta["step"],
        "images": len(x),
        "mse": mse,
        "psnr_db": float(10 * np.log10(1 / mse)),
        "latent_shape": list(vae.latent_shape),
        "parameters": vae.num_parameters(),
        "rows": rows,
        "grid": np.concatenate([to_uint8(recon[:8] * 2 - 1), images[:8]]).tolist(),
    }


def cpu_seconds(log: str) -> dict:
    """User + system CPU and wall seconds from ``/usr/bin/time -v``'s report at the end of ``log``."""
    body = Path(log).read_text(errors="replace")[-20000:]

    def field(name: str) -> str:
        return re.search(rf"{re.escape(name)}: (\S+)", body).group(1)

    wall = [float(p) for p in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    return {
        "log": log,
        "cpu_s": float(field("User time (seconds)")) + float(field("System time (seconds)")),
        "wall_s": sum(v * 60**i for i, v in enumerate(reversed(wall))),
    }


def quoted_rows() -> list[str]:
    """The lines of docs/results/text.md's tables for the rows this page compares with, verbatim."""
    lines = (ROOT / "docs" / "results" / "text.md").read_text().splitlines()
    return [ln for ln in lines if any(ln.startswith(f"| {q} | ") for q in QUOTED)]


def render(saved: dict) -> None:
    ae = saved["autoencoder"]
    save_grid(PAGE.parent / "text-ldm-recon.png", np.array(ae["grid"], dtype=np.uint8), nrow=8)
    for label, grid in saved["grids"].items():
        save_grid(PAGE.parent / f"text-ldm-{text.slug(label)}.png", np.array(grid, dtype=np.uint8), nrow=8)
    logs = "\n".join(
        f"| {t['log']} | {t['cpu_s']:.0f} | {t['wall_s']:.0f} |" for t in saved["cpu"]
    )  # fmt: skip
    runs = "".join(
        f"| {r['model']} | {r['text_encoder']} | {r['step']} | {r['train_wall_s']:.0f} | {r['parameters']:,} |\n"
        for r in saved["runs"]
    )
    rows = "".join(text._row(r) for r in ae["rows"] + saved["rows"])
    old = quoted_rows()
    latent = "x".join(map(str, ae["latent_shape"]))
    grids = "\n".join(
        f"**{label}** (held-out prompts, one row each):\n\n![{label}](text-ldm-{text.slug(label)}.png)\n"
        for label in saved["grids"]
    )
    page = f"""# text-ldm on captions32: a Stable-Diffusion-shaped pipeline, scored on compositional prompts

Produced by `{saved["command"]}` (results in `runs/text-ldm-bench/results.json`; `--render` rewrites this page from
it), on a 2-core CPU shared with other jobs (`uptime` load average {saved["load"]} when the benchmark started). The
runs were trained with (each `OMP_NUM_THREADS=1`, under `/usr/bin/time -v`, one after the other):

```
{chr(10).join(TRAIN_COMMANDS)}
```

Pipeline (`genlab.models.text_ldm`, guide: [latent diffusion](../guide/latent-diffusion.md#text-ldm)): caption ->
built-in caption transformer -> cross-attention U-Net on the frozen spatial-vae's {latent} latent
map (scaled to unit variance) -> DDIM with classifier-free guidance (caption dropped with p = 0.1 in training) -> the
autoencoder's decoder mean. Prompts, seeds, classifier and FID are those of [text.md](text.md) (`benchmarks/text.py`'s
`measure`, {saved["n"]} samples per prompt).

**The first stage.** spatial-vae run `{ae["run"]}` (step {ae["step"]}, {ae["parameters"]:,} parameters): on the
first {ae["images"]} captions32 test images its reconstructions have MSE {ae["mse"]:.5f} (pixels in [0, 1]), PSNR
{ae["psnr_db"]:.1f} dB. Top row: reconstructions; bottom row: the test images.

![reconstructions](text-ldm-recon.png)

**Compute.** CPU seconds (user + system) and wall seconds of each training command, from `/usr/bin/time -v`;
text-ddpm/builtin's 10000 steps took 2544 s of wall time with up to three runs sharing the 2 cores (its CPU
seconds were not recorded):

| log | CPU s | wall s |
|---|---|---|
{logs}

| model | text encoder | steps reached | training wall time (s) | trained parameters |
|---|---|---|---|---|
{runs}
Share of generated images whose attribute the classifier reads as the prompt's, measured now. The
"autoencoder reconstructions" rows pass the real renders through the frozen autoencoder: the best a model in its
latent space could score.

| model | step | prompts | w | motif | colour | background | size | all four | FID |
|---|---|---|---|---|---|---|---|---|---|
{rows}
{text.findings(saved)}
For comparison, from [docs/results/text.md](text.md) (measured then with the same prompts, seeds and classifier;
quoted verbatim, not re-measured: those runs are not on this machine):

| model | step | prompts | w | motif | colour | background | size | all four | FID |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(old)}

{saved.get("discussion", "")}

{grids}
"""
    atomic_write_text(PAGE, page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--autoencoder", default="runs/text-ldm-ae", help="the spatial-vae run text-ldm was trained on"
    )
    parser.add_argument("--model", action="append", default=[], help="LABEL=RUN_DIR[@CHECKPOINT], repeatable")
    parser.add_argument("--time-log", action="append", default=[], help="a training log ending in /usr/bin/time -v")
    parser.add_argument("-n", type=int, default=32, help="samples per prompt")
    parser.add_argument("--guidance", default="1,3,6", help="comma-separated guidance scales")
    parser.add_argument("--recon-images", type=int, default=2000, help="test images for the reconstruction error")
    parser.add_argument("--render", action="store_true", help="rewrite the page from the saved JSON")
    args = parser.parse_args()
    if args.render:
        saved = json.loads(SAVED.read_text())
    else:
        command = (
            f"OMP_NUM_THREADS=1 python benchmarks/text_ldm.py --autoencoder {args.autoencoder} "
            + " ".join(f"--model {m}" for m in args.model)
            + "".join(f" --time-log {t}" for t in args.time_log)
            + f" -n {args.n} --guidance {args.guidance}"
        )
        load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.split("load average:")[-1].strip()
        torch.set_num_threads(1)
        ae = reconstruction(args.autoencoder, args.recon_images, args.n)
        models = dict(m.split("=", 1) for m in args.model)
        measured = text.measure(models, args.n, [float(w) for w in args.guidance.split(",")])
        saved = {
            **measured,
            "rows": [r for r in measured["rows"] if r["model"] != "real images"]
            + [r for r in measured["rows"] if r["model"] == "real images"],
            "autoencoder": ae,
            "cpu": [cpu_seconds(t) for t in args.time_log],
            "command": command,
            "load": load,
        }
        SAVED.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(SAVED, json.dumps(saved))
    render(saved)


if __name__ == "__main__":
    main()
