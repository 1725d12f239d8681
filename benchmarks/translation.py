"""Image-to-image translation: pix2pix vs its L1-only ablation (paired), CycleGAN (unpaired).

    OMP_NUM_THREADS=1 python benchmarks/translation.py

1. Trains, one process at a time, the runs in RUNS with `genlab train` (a finished run,
   one with card.md, is kept; an unfinished one is resumed).
2. Scores every model on the full held-out test split (10 000 MNIST test digits):
   pix2pix and L1-only on the digits-outline pairs (L1, PSNR, SSIM of output vs true
   target on the [0, 1] scale; FID of outputs vs targets), CycleGAN on digits-thickness
   (cycle reconstruction L1 per domain, FID per direction, and L1/SSIM of each
   translation against the ground-truth counterpart the unpaired training never saw).
   FID uses the evaluation suite's digits extractor on the 28x28 grey images.
3. Writes docs/results/translation.md, translation.json, translation-data.png (the data
   sets), translation-pix2pix.png (input / L1-only / pix2pix / target) and
   translation-cyclegan.png (A -> B -> A and B -> A -> B).
``--render`` rewrites the page from translation.json without training or scoring.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from genlab.atomic import atomic_write_text
from genlab.config import to_dict
from genlab.data import make_grid, save_grid, to_uint8
from genlab.data.translation import TRANSLATION_SETS, load_translation, split_pair, translation_ground_truth
from genlab.eval.extractors import get_extractor
from genlab.eval.metrics import feature_statistics, frechet_distance
from genlab.math.image_metrics import mean_absolute_error, psnr, ssim
from genlab.nn.patchgan import PAPER_PATCH, PAPER_SIZE
from genlab.plots import figure, save_figure
from genlab.runs.loading import load_family

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
RUNS_DIR = Path("runs/translation")
COMMON = "--preset small --set sample_every=1000 --set checkpoint_every=1000"
RUNS = {
    "pix2pix": f"genlab train pix2pix {COMMON} --steps 3000 --batch-size 32 --out {RUNS_DIR}/pix2pix",
    "pix2pix-l1": f"genlab train pix2pix {COMMON} --steps 3000 --batch-size 32 --set adversarial=false --out "
    f"{RUNS_DIR}/pix2pix-l1",
    "cyclegan": f"genlab train cyclegan {COMMON} --steps 1200 --batch-size 8 --out {RUNS_DIR}/cyclegan",
}
DROPOUT_SEED = 0  # pix2pix translations draw their dropout masks from this seed (as its evaluate() does)
GRID_COLUMNS = 10  # test digits shown in the grids: the first of each class 0..9


def train_all() -> None:
    genlab = str(Path(sys.executable).with_name("genlab"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name, command in RUNS.items():
        run_dir = ROOT / RUNS_DIR / name
        if (run_dir / "card.md").is_file():
            print(f"{name}: finished run found in {run_dir}, kept", flush=True)
            continue
        argv = (
            [genlab, "train", "--resume", str(run_dir)]
            if (run_dir / "config.yaml").is_file()
            else [genlab, *command.split()[1:]]
        )
        print(f"{name}: {' '.join(argv[1:])}", flush=True)
        subprocess.run(argv, cwd=ROOT, env=env, check=True)


def train_seconds(meta: dict) -> float:
    """Training wall time of a run over all its sessions, as its latest checkpoint records it."""
    return float(meta["train_seconds"])


def as_float(u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(u8)).float() / 127.5 - 1.0  # uint8 -> [-1, 1]


def batched(f, x: torch.Tensor, size: int = 500) -> torch.Tensor:
    return torch.cat([f(x[i : i + size]) for i in range(0, x.shape[0], size)])


def quality(output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Mean and standard error over images of L1, PSNR, SSIM on the [0, 1] scale."""
    o, t = (output + 1) / 2, (target + 1) / 2
    out = {}
    for key, values in (("l1", mean_absolute_error(o, t)), ("psnr", psnr(o, t)), ("ssim", ssim(o, t))):
        v = values.double()
        out[key], out[f"{key}_se"] = v.mean().item(), (v.std() / v.numel() ** 0.5).item()
    return out


class FID:
    """FID against fixed reference images, in the digits extractor's feature space."""

    def __init__(self) -> None:
        self.extractor = get_extractor("digits")

    def stats(self, images_u8: np.ndarray):
        return feature_statistics(self.extractor.features(images_u8))

    def __call__(self, images_u8: np.ndarray, reference) -> float:
        return frechet_distance(*self.stats(images_u8), *reference)


def data_figure() -> None:
    """Eight test pairs of every translation set: A above B."""
    fig, axes = figure(len(TRANSLATION_SETS), 1, size=(7.0, 2.0 * len(TRANSLATION_SETS)))
    for ax, (name, spec) in zip(axes, TRANSLATION_SETS.items()):
        a, b, _ = translation_ground_truth(name)
        picture = make_grid(np.concatenate([a[:8], b[:8]]), nrow=8)
        ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=255)
        ax.set_title(f"{name} ({spec.kind}): {spec.description}  (top A, bottom B)", fontsize=8)
        ax.axis("off")
    save_figure(fig, RESULTS / "translation-data.png")


def first_of_each_class(labels: np.ndarray) -> np.ndarray:
    return np.array([int(np.flatnonzero(labels == k)[0]) for k in range(GRID_COLUMNS)])


def score_pix2pix(fid: FID) -> dict:
    a, b, labels = translation_ground_truth("digits-outline")
    x, y = as_float(a), as_float(b)
    reference = fid.stats(b)
    out: dict = {
        "n": len(a),
        "rows": [{"model": "input copied (no model)", **quality(x, y), "fid": fid(a, reference)}],
    }
    shown = first_of_each_class(labels)
    grid = [a[shown]]
    for name in ("pix2pix-l1", "pix2pix"):
        run_dir = ROOT / RUNS_DIR / name
        family, run, meta = load_family(run_dir)
        g = torch.Generator().manual_seed(DROPOUT_SEED)
        start = time.perf_counter()
        pred = batched(lambda v: family.translate(v, g), x)
        ms = 1000 * (time.perf_counter() - start) / len(x)
        u8 = to_uint8(pred)
        out["rows"].append(
            {
                "model": name,
                "run": str(RUNS_DIR / name),
                **quality(pred, y),
                "fid": fid(u8, reference),
                "ms_per_image": ms,
                "params": family.num_parameters(),
                "train_s": train_seconds(meta),
                "steps": run.train.steps,
                "batch_size": run.train.batch_size,
                "receptive_field": family.receptive_field,
                "config": to_dict(run.model),
            }
        )
        grid.append(u8[shown])
    grid.append(b[shown])
    save_grid(RESULTS / "translation-pix2pix.png", np.concatenate(grid), nrow=GRID_COLUMNS)
    return out


def score_cyclegan(fid: FID) -> dict:
    a, b, labels = translation_ground_truth("digits-thickness")
    run_dir = ROOT / RUNS_DIR / "cyclegan"
    family, run, meta = load_family(run_dir)
    x_a, x_b = as_float(a), as_float(b)
    fake_b = batched(lambda v: family.translate(v, "a2b"), x_a)
    fake_a = batched(lambda v: family.translate(v, "b2a"), x_b)
    rec_a = batched(lambda v: family.translate(v, "b2a"), fake_b)
    rec_b = batched(lambda v: family.translate(v, "a2b"), fake_a)
    ref_a, ref_b = fid.stats(a), fid.stats(b)
    train_a, train_b = split_pair(load_translation("digits-thickness", "train")[0][: len(a)])
    u8 = {k: to_uint8(v) for k, v in (("fake_b", fake_b), ("fake_a", fake_a), ("rec_a", rec_a), ("rec_b", rec_b))}
    out = {
        "n": len(a),
        "n_real": len(train_a),
        "run": str(RUNS_DIR / "cyclegan"),
        "params": family.num_parameters(),
        "train_s": train_seconds(meta),
        "steps": run.train.steps,
        "batch_size": run.train.batch_size,
        "patch": family.nets["d_a"].receptive_field,
        "config": to_dict(run.model),
        "directions": [
            {
                "direction": "A -> B (thin -> thick)",
                "fid": fid(u8["fake_b"], ref_b),
                "fid_copy": fid(a, ref_b),
                "fid_real": fid(np.ascontiguousarray(train_b), ref_b),
                "cycle": quality(rec_a, x_a),
                "vs_truth": quality(fake_b, x_b),
                "copy_vs_truth": quality(x_a, x_b),
            },
            {
                "direction": "B -> A (thick -> thin)",
                "fid": fid(u8["fake_a"], ref_a),
                "fid_copy": fid(b, ref_a),
                "fid_real": fid(np.ascontiguousarray(train_a), ref_a),
                "cycle": quality(rec_b, x_b),
                "vs_truth": quality(fake_a, x_a),
                "copy_vs_truth": quality(x_b, x_a),
            },
        ],
    }
    shown = first_of_each_class(labels)
    rows = [a[shown], u8["fake_b"][shown], u8["rec_a"][shown], b[shown], u8["fake_a"][shown], u8["rec_b"][shown]]
    save_grid(RESULTS / "translation-cyclegan.png", np.concatenate(rows), nrow=GRID_COLUMNS)
    return out


def measure() -> dict:
    torch.set_num_threads(1)
    start = time.perf_counter()
    fid = FID()
    data_figure()
    result = {"pix2pix": score_pix2pix(fid), "cyclegan": score_cyclegan(fid), "commands": RUNS}
    result["environment"] = (
        f"torch {torch.__version__} ({torch.get_num_threads()} thread), Python {platform.python_version()}"
    )
    result["scoring_s"] = time.perf_counter() - start
    atomic_write_text(RESULTS / "translation.json", json.dumps(result, indent=1))
    return result


def f(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}f}"


def pm(q: dict, key: str, digits: int = 3) -> str:
    return f"{q[key]:.{digits}f} ± {q[f'{key}_se']:.{digits}f}"


def z_score(a: dict, b: dict, key: str) -> float:
    """(a - b) in units of the two means' combined standard error (independent-samples, so conservative)."""
    return (a[key] - b[key]) / max((a[f"{key}_se"] ** 2 + b[f"{key}_se"] ** 2) ** 0.5, 1e-12)


def ablation_verdict(gan: dict, l1: dict) -> list[str]:
    """The paper's ablation question, answered from the numbers: does the GAN term beat L1 alone?"""
    z = {k: z_score(gan, l1, k) for k in ("l1", "psnr", "ssim")}
    better = [k.upper() for k, sign in (("l1", -1), ("psnr", 1), ("ssim", 1)) if sign * z[k] > 2]
    worse = [k.upper() for k, sign in (("l1", -1), ("psnr", 1), ("ssim", 1)) if sign * z[k] < -2]
    verdict = (
        (
            f"pix2pix is better than L1-only on {', '.join(better)}"
            if better
            else "pix2pix is not better than L1-only on any pixel metric"
        )
        + (f" and worse on {', '.join(worse)}" if worse else "")
        + " by more than 2 standard errors"
    )
    return [
        f"**Ablation.** pix2pix minus L1-only: L1 {gan['l1'] - l1['l1']:+.4f} ({z['l1']:+.1f} SE), PSNR "
        f"{gan['psnr'] - l1['psnr']:+.2f} dB "
        f"({z['psnr']:+.1f} SE), SSIM {gan['ssim'] - l1['ssim']:+.4f} ({z['ssim']:+.1f} SE), FID vs targets "
        f"{gan['fid'] - l1['fid']:+.2f}: {verdict}.",
        'The paper\'s "L1 alone is blurry" needs a target the input leaves uncertain (L1 then predicts the '
        "median of "
        "the",
        "plausible outputs); filling a contour has one right answer per input, so L1 alone is already sharp "
        "here, as "
        "the grid shows,",
        "and the adversarial term has little left to sharpen. `digits-colour` (class colour and texture from a "
        "grey "
        "digit) is the set",
        "where the two losses should part; it was not trained for this page (CPU budget).",
    ]


def render(r: dict) -> str:
    p, c = r["pix2pix"], r["cyclegan"]
    gan, l1 = (next(row for row in p["rows"] if row["model"] == m) for m in ("pix2pix", "pix2pix-l1"))
    g, cc, rf = gan["config"], c["config"], gan["receptive_field"]
    lines = [
        "# Image-to-image translation: `pix2pix` and `cyclegan`",
        "",
        "Made by `OMP_NUM_THREADS=1 python benchmarks/translation.py` (trains the three runs below one after "
        "the "
        "other, then scores them; "
        f"`--render` rewrites this page from `docs/results/translation.json`), {r['environment']}, on 2 CPU "
        "cores "
        "shared with several other "
        "engineers' jobs: every wall time here is inflated by that sharing and noisy. Scoring took "
        f"{r['scoring_s'] / 60:.1f} min.",
        "",
        "## Data sets (`genlab.data.translation`)",
        "",
        "Procedural, from the embedded MNIST, deterministic (scipy.ndimage morphology, seeded permutations); "
        "train "
        "split from MNIST train,",
        f"held-out test split from the {c['n']:,} MNIST test digits. One uint8 array (N, C, 28, 56) per split: "
        "**domain A (input) left, domain B",
        "(target) right**, the side-by-side layout of the pix2pix paper's own data sets; "
        "`genlab.data.translation.split_pair` cuts it.",
        "`translation_ground_truth(name)` returns the aligned test pairs, also for the unpaired set, whose "
        "loader "
        "shuffles B away from A.",
        "",
        "| data set | kind | A -> B |",
        "|---|---|---|",
        *[f"| `{name}` | {s.kind} | {s.description} |" for name, s in TRANSLATION_SETS.items()],
        "",
        "![translation data sets: eight test pairs each, A above B](translation-data.png)",
        "",
        "## Runs",
        "",
        "| run | family | parameters | steps x batch | training wall time | command |",
        "|---|---|---|---|---|---|",
    ]
    for row in (gan, l1):
        lines.append(
            f"| {row['run']} | pix2pix{'' if row['model'] == 'pix2pix' else ' (adversarial=false)'} | "
            f"{row['params']:,} | {row['steps']} x {row['batch_size']} | {row['train_s'] / 60:.1f} min | "
            f"`{r['commands'][row['model']]}` |"
        )
    lines += [
        f"| {c['run']} | cyclegan | {c['params']:,} | {c['steps']} x {c['batch_size']} | "
        f"{c['train_s'] / 60:.1f} min "
        f"| `{r['commands']['cyclegan']}` |",
        "",
        "Training wall time is the `train_seconds` of each run's last checkpoint (summed over all sessions of "
        "a run: "
        "the cyclegan run was stopped and resumed with a lower --steps to fit the CPU budget; resume is "
        "bit-exact, so "
        "it matches a fresh run of the command shown). Parameters count every network (both generators and",
        "discriminators for cyclegan; the L1-only run has no discriminator).",
        "",
        "## pix2pix on `digits-outline` (contour -> filled thick digit)",
        "",
        f"U-Net depth {g['depth']} (28 x 28 padded to {2 ** g['depth'] * -(-28 // 2 ** g['depth'])}), base "
        "width "
        f"{g['base_channels']} (widths b, 2b, 4b, 8b, 8b, ...), "
        f"dropout {g['dropout']} on the three innermost decoder layers, on at test time too (masks from seed "
        f"{DROPOUT_SEED}); PatchGAN "
        f"(base width {g['d_base_channels']}) conditioned on the input, each logit judging a {rf} x {rf} "
        "patch: "
        f"{rf / 28:.2f} of the "
        f"image side, the paper's {PAPER_PATCH} / {PAPER_SIZE} = {PAPER_PATCH / PAPER_SIZE:.2f} scaled to 28 "
        "px "
        "(`genlab.nn.patchgan.patch_layers_for`); "
        f"loss cGAN + {g['l1_weight']:g} L1. Scores over all {p['n']:,} test pairs, on the [0, 1] pixel scale,",
        f"mean ± standard error over images; FID of the {p['n']:,} outputs against the {p['n']:,} true targets "
        "(digits extractor).",
        "",
        "| model | L1 ↓ | PSNR (dB) ↑ | SSIM ↑ | FID vs targets ↓ | ms / image |",
        "|---|---|---|---|---|---|",
    ]
    for row in p["rows"]:
        ms = f(row["ms_per_image"], 2) if "ms_per_image" in row else "–"
        lines.append(
            f"| {row['model']} | {pm(row, 'l1', 4)} | {pm(row, 'psnr', 2)} | {pm(row, 'ssim', 4)} | "
            f"{f(row['fid'], 2)} | {ms} |"
        )
    lines += [
        "",
        "![pix2pix: rows input, L1-only, pix2pix, target; one test digit of each class](translation-pix2pix.png)",
        "",
        "Rows: input contour, L1-only U-Net, pix2pix (cGAN + L1), true target; the first test digit of each "
        "class 0-9.",
        "",
        *ablation_verdict(gan, l1),
        "",
        "## cyclegan on `digits-thickness` (thin strokes <-> thick strokes, unpaired)",
        "",
        f"ResNet generators (base width {cc['base_channels']}: b, 2b, 4b; {cc['n_blocks']} residual blocks), "
        "PatchGAN "
        "discriminators "
        f"(base width {cc['d_base_channels']}) with InstanceNorm ({c['patch']} x {c['patch']} patches), "
        "least-squares "
        "adversarial loss, cycle "
        f"consistency λ = {cc['cycle_weight']:g}, identity loss {cc['identity_weight']:g} λ, history pool of "
        f"{cc['pool_size']} images per discriminator. "
        f"Scored on the {c['n']:,} aligned test pairs (each thin test digit with its thick counterpart): the "
        "model "
        "never saw an aligned pair, "
        "so the L1/SSIM against the true counterpart measures what unpaired training recovered. FID per "
        "direction: "
        "translations of all "
        f"{c['n']:,} test images of one domain against the {c['n']:,} real test images of the other (digits "
        "extractor). Reference columns: the input "
        f"copied unchanged (no translation), and {c['n_real']:,} real images of the target domain from the "
        "train "
        "split (the floor for this n).",
        "",
        "| direction | FID ↓ | FID, input copied | FID, real train images | cycle L1 (x -> y -> x) ↓ | cycle "
        "SSIM ↑ | "
        "L1 vs true counterpart ↓ | SSIM vs true counterpart ↑ | same, input copied (L1 / SSIM) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d in c["directions"]:
        lines.append(
            f"| {d['direction']} | {f(d['fid'], 2)} | {f(d['fid_copy'], 2)} | {f(d['fid_real'], 2)} | "
            f"{pm(d['cycle'], 'l1', 4)} | {pm(d['cycle'], 'ssim', 4)} | "
            f"{pm(d['vs_truth'], 'l1', 4)} | {pm(d['vs_truth'], 'ssim', 4)} | {f(d['copy_vs_truth']['l1'], 4)} "
            "/ "
            f"{f(d['copy_vs_truth']['ssim'], 4)} |"
        )
    lines += [
        "",
        "![cyclegan: rows A, G_AB(A), G_BA(G_AB(A)), B, G_BA(B), G_AB(G_BA(B))](translation-cyclegan.png)",
        "",
        "Rows: thin test digit A, G_AB(A), G_BA(G_AB(A)); then its true thick counterpart B, G_BA(B), G_AB(G_BA(B)).",
        "",
        "## Reproduce and use",
        "",
        "```",
        *r["commands"].values(),
        "genlab sample runs/translation/pix2pix -n 64 -o p2p.npz --grid p2p.png            # [held-out input | "
        "translation]",
        "genlab sample runs/translation/cyclegan -n 64 --set direction=b2a -o cg.npz --grid cg.png  # [G_BA(b) | b]",
        "```",
        "",
        "**Caveats.** One training seed per model, short CPU-sized runs; FID in the digit classifier's feature "
        "space "
        "(trained on",
        "ordinary MNIST strokes, so thick and thin digits are already slightly out of its distribution; "
        "compare rows "
        "within a column).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render", action="store_true", help="rewrite translation.md from translation.json only")
    args = parser.parse_args()
    if args.render:
        result = json.loads((RESULTS / "translation.json").read_text())
    else:
        train_all()
        result = measure()
    atomic_write_text(RESULTS / "translation.md", render(result))
    print(f"wrote {RESULTS / 'translation.md'}")


if __name__ == "__main__":
    main()
