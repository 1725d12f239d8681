"""stylegan-lite on shapes64: style mixing, truncation, noise, FID and how well w separates the factors.

    OMP_NUM_THREADS=1 python benchmarks/stylegan.py runs/stylegan-small

The run it reads is trained with the command this script prints into the page (read back from the
run's config.yaml). From the run's latest checkpoint (EMA generator) it draws:
- figures: a style-mixing grid (styles of the 4x4 and 8x8 layers from the row's source, the rest from
  the column's), a truncation sweep psi = 1.0, 0.7, 0.5 (and 0, the mean w), noise off / four noise
  draws / the per-pixel std over 16 draws, and 64 plain samples;
- FID, KID, precision, recall, coverage with the shapes extractor against shapes64-test for each psi,
  next to real images at full size and pooled to the working resolution and back (that floor is what
  a perfect 32x32 generator would score);
- a linear probe per factor: ``--probe`` samples, their factors as predicted by the shipped shapes64
  classifier on the generated image, logistic regression on z and on w (first 80 % fit, last 20 % scored),
  and MIG / DCI (random forests) of z and w against the same predicted factors.
Writes runs/stylegan-bench/results.json, docs/results/stylegan.md and docs/results/stylegan-*.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from genlab.atomic import atomic_write_text
from genlab.config import TrainConfig, to_dict
from genlab.data import load_dataset, save_grid, to_uint8
from genlab.data.shapes64 import FACTOR_NAMES, FACTOR_SIZES, shapes64_factors
from genlab.eval.disentangle import dci, mig
from genlab.eval.evaluate import Evaluator, load_reference
from genlab.eval.extractors import get_extractor
from genlab.eval.shapes_features import load_shapes_cnn, predict_factors
from genlab.models.registry import get_family
from genlab.models.stylegan_net import coarse_cutoff
from genlab.runs.loading import load_family
from genlab.runs.rundir import read_config

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
SAVED = ROOT / "runs" / "stylegan-bench" / "results.json"
PSIS = (1.0, 0.7, 0.5)
FIGURE_PSI = 0.7  # mixing and noise figures (Karras et al. show truncated samples too)
PARTS = ("figures", "fid", "probe", "mixing")
METRICS = ("fid", "kid", "precision", "recall", "coverage", "inception_score", "modes_covered")


def train_command(run_dir: Path) -> str:
    """The `genlab train` line that reproduces a run: every config key that differs from its default."""
    run = read_config(run_dir)
    model_defaults, train_defaults = to_dict(get_family(run.family).config_cls()), to_dict(TrainConfig())
    flag = lambda v: str(v).lower() if isinstance(v, bool) else str(v)  # noqa: E731
    sets = [f"--set {k}={flag(v)}" for k, v in to_dict(run.model).items() if v != model_defaults[k]]
    sets += [
        f"--set {k}={flag(v)}"
        for k, v in to_dict(run.train).items()
        if v != train_defaults[k] and k not in ("dataset", "steps", "batch_size", "seed")
    ]
    return " ".join(
        [
            f"genlab train {run.family} --dataset {run.train.dataset} --steps {run.train.steps} --batch-size "
            f"{run.train.batch_size} --seed {run.train.seed}",
            *sets,
            f"--out {run_dir}",
        ]
    )


def training_record(run_dir: Path) -> dict:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    logged = [r for r in records if "elapsed_s" in r]
    stopped = [r for r in records if r.get("stopped")]
    return {
        "last_step": logged[-1]["step"],
        "train_s": logged[-1]["elapsed_s"],
        "last": {k: logged[-1][k] for k in ("loss_d", "loss_g", "d_real", "d_fake")},
        "stopped_by_budget_at": stopped[-1]["step"] if stopped else None,
    }


def run_metadata(run_dir: Path, family, run, meta) -> dict:
    """What the page says about the run: its command, training record, size and versions."""
    return {
        "run": str(run_dir),
        "command": train_command(run_dir),
        "checkpoint_step": meta["step"],
        "batch_size": run.train.batch_size,
        "training": training_record(run_dir),
        "parameters": family.num_parameters(),
        "resolution": family.resolution,
        "model": to_dict(run.model),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
    }


def doubled(x: torch.Tensor) -> np.ndarray:
    """Native-resolution images for the figures, every pixel shown as 2x2: (B, C, R, R) -> uint8 (B, C, 2R, 2R)."""
    return to_uint8(x).repeat(2, axis=2).repeat(2, axis=3)


def render_same_noise(family, ws: torch.Tensor, seed: int) -> torch.Tensor:
    """Each sample with the same noise images (the generator re-seeded per sample): only styles differ."""
    return torch.cat(
        [
            family.render(ws[i : i + 1], generator=torch.Generator().manual_seed(seed), native=True)
            for i in range(ws.shape[0])
        ]
    )


def figures(family, seed: int = 1) -> dict:
    z_dim, gen = family.cfg.z_dim, torch.Generator().manual_seed(seed)
    g = family.sampling_generator
    # 1. Style mixing: row sources give the coarse styles, column sources the rest.
    rows, cols, cutoff = 4, 6, coarse_cutoff(8)
    ws_rows = family.styles(torch.randn(rows, z_dim, generator=gen), psi=FIGURE_PSI)
    ws_cols = family.styles(torch.randn(cols, z_dim, generator=gen), psi=FIGURE_PSI)
    mixed = torch.cat(
        [
            torch.cat([ws_rows[i : i + 1, :cutoff].expand(cols, -1, -1), ws_cols[:, cutoff:]], dim=1)
            for i in range(rows)
        ]
    )
    row_img, col_img, mix_img = (doubled(render_same_noise(family, w, seed)) for w in (ws_rows, ws_cols, mixed))
    blank = np.full_like(row_img[:1], 255)
    cells = [blank, col_img] + [
        np.concatenate([row_img[i : i + 1], mix_img[i * cols : (i + 1) * cols]]) for i in range(rows)
    ]
    save_grid(RESULTS / "stylegan-mixing.png", np.concatenate(cells), nrow=cols + 1)
    # 2. Truncation sweep: the same 8 z per row, psi 1.0, 0.7, 0.5, then 0 (every z gives the mean w).
    z = torch.randn(8, z_dim, generator=gen)
    sweep = [doubled(render_same_noise(family, family.styles(z, psi=psi), seed)) for psi in (*PSIS, 0.0)]
    save_grid(RESULTS / "stylegan-truncation.png", np.concatenate(sweep), nrow=8)
    # 3. Noise: off, four draws, per-pixel std of the luminance over 16 draws (scaled to the figure's max).
    ws = family.styles(torch.randn(5, z_dim, generator=gen), psi=FIGURE_PSI)
    off = family.render(ws, noise="none", native=True)
    draws = torch.stack(
        [family.render(ws, generator=torch.Generator().manual_seed(100 + k), native=True) for k in range(16)]
    )  # (16, B, C, R, R)
    std = draws.mean(dim=2, keepdim=True).std(dim=0)  # (B, 1, R, R)
    std_img = (std / std.max().clamp_min(1e-8) * 2 - 1).expand(-1, 3, -1, -1)
    cells = [doubled(torch.stack([off[i], *draws[:4, i], std_img[i]])) for i in range(ws.shape[0])]
    save_grid(RESULTS / "stylegan-noise.png", np.concatenate(cells), nrow=6)
    noise_change = float((draws - off[None]).abs().mean())  # mean |pixel| change, in [-1, 1] units
    # 4. Plain samples as `genlab sample` gives them (psi 1).
    save_grid(
        RESULTS / "stylegan-samples.png",
        to_uint8(family.sample(64, generator=torch.Generator().manual_seed(seed))),
        nrow=8,
    )
    strengths = torch.cat([layer.noise.strength.abs() for layer in g.layers])
    return {
        "cutoff": cutoff,
        "num_ws": g.num_ws,
        "noise_mean_abs_change": noise_change,
        "noise_strength_mean_abs": float(strengths.mean()),
        "std_max": float(std.max()),
    }


def sample_at(family, n: int, psi: float, seed: int, batch: int = 500) -> np.ndarray:
    """Like family.sample with truncation psi: uint8 (n, C, H, W) at the data size."""
    gen, out = torch.Generator().manual_seed(seed), []
    for lo in range(0, n, batch):
        z = torch.randn(min(batch, n - lo), family.cfg.z_dim, generator=gen)
        out.append(to_uint8(family.render(family.styles(z, psi=psi), generator=gen)))
    return np.concatenate(out)


def down_up(images: np.ndarray, factor: int) -> np.ndarray:
    """Real images pooled to the working resolution and bilinearly back, as the family's samples are."""
    x = torch.from_numpy(np.asarray(images, dtype=np.float32) / 127.5 - 1)
    x = F.interpolate(F.avg_pool2d(x, factor), scale_factor=factor, mode="bilinear", align_corners=False)
    return to_uint8(x.clamp(-1, 1))


def fid_rows(family, n: int) -> list[dict]:
    evaluator = Evaluator(load_reference("shapes64-test"), get_extractor("shapes"))

    def score(images: np.ndarray) -> dict:
        result = evaluator(images)
        return {k: result[k] for k in METRICS}

    real = load_reference("shapes64-train", n=n).images
    factor = family.info.height // family.resolution
    rows = [
        {"what": f"real: shapes64 train[:{n}] at 64x64", **score(real)},
        {
            "what": f"real: shapes64 train[:{n}] pooled to {family.resolution}x{family.resolution} and back",
            **score(down_up(real, factor)),
        },
    ]
    for psi in PSIS:
        rows.append({"what": f"stylegan-lite, psi = {psi}", "psi": psi, **score(sample_at(family, n, psi, seed=0))})
    return rows


def probe_accuracy(codes: np.ndarray, labels: np.ndarray, n_fit: int) -> float:
    """Held-out accuracy of a standardised multinomial logistic regression (nan if one value only)."""
    if np.unique(labels[:n_fit]).size < 2:
        return float("nan")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(model.fit(codes[:n_fit], labels[:n_fit]).score(codes[n_fit:], labels[n_fit:]))


def probes(family, n: int, seed: int = 2) -> dict:
    classifier = load_shapes_cnn()
    # How far the classifier's labels can be trusted at this resolution: real test images, full size and pooled.
    test = load_dataset("shapes64", "test")[0][:2000]
    truth = shapes64_factors("test")[0][:2000]
    factor = family.info.height // family.resolution
    reliability = {
        "full": (predict_factors(classifier, test) == truth).mean(0).tolist(),
        "pooled": (predict_factors(classifier, down_up(test, factor)) == truth).mean(0).tolist(),
    }
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        z = torch.randn(n, family.cfg.z_dim, generator=gen)
        w = family.sampling_generator.mapping(z)
    g = family.sampling_generator
    images = np.concatenate(
        [
            to_uint8(family.render(w[i : i + 500, None].expand(-1, g.num_ws, -1), generator=gen))
            for i in range(0, n, 500)
        ]
    )
    labels = predict_factors(classifier, images)  # (n, 7)
    n_fit = int(0.8 * n)
    rows = []
    for j, name in enumerate(FACTOR_NAMES):
        y = labels[:, j]
        values, counts = np.unique(y[:n_fit], return_counts=True)
        majority = float((y[n_fit:] == values[counts.argmax()]).mean())
        seen = int((np.bincount(y, minlength=FACTOR_SIZES[j]) >= 0.02 * n).sum())
        rows.append(
            {
                "factor": name,
                "values": FACTOR_SIZES[j],
                "seen": seen,
                "majority": majority,
                "z": probe_accuracy(z.numpy(), y, n_fit),
                "w": probe_accuracy(w.numpy(), y, n_fit),
            }
        )
    scores = {}
    for code_name, codes in (("z", z.numpy().astype(np.float64)), ("w", w.numpy().astype(np.float64))):
        d = dci(codes, labels, seed=0)
        scores[code_name] = {
            "mig": mig(codes, labels),
            "dci_disentanglement": d.disentanglement,
            "dci_completeness": d.completeness,
            "dci_informativeness": d.informativeness,
        }
    return {"n": n, "n_fit": n_fit, "reliability": reliability, "rows": rows, "disentanglement": scores}


READING = """\
**Reading the figures** (of the run in the table above; no numbers here that the tables do not give). Along a row of the mixing grid
(same coarse styles) each motif keeps its outline, size and position while its colour and speckle follow the column's source; down a
column the outline, size and position change: the measured table under the grid says the same for every factor but hue, which follows the
fine styles, as in StyleGAN's faces (pose and shape coarse, colour scheme fine). In the truncation sweep the samples move towards the
mean-w image of the last row, most of them taking its green, and differ mainly in size by psi = 0.5. With the noise off the motifs are
smooth flat blobs; noise draws change only the speckle inside the motif, and the standard-deviation map is bright on the motif and dark on
the background: this early in training the generator uses noise for the strokes and lattices it cannot yet draw from its styles. The
samples are mostly green with fuzzy strokes (see *values seen* in the probe table and the low recall): an early-training generator that
has found positions, sizes and backgrounds before the motifs' line structure and the full range of hues."""


def fmt(v, digits: int = 3) -> str:
    return (
        "–"
        if v is None or (isinstance(v, float) and np.isnan(v))
        else f"{v:.{digits}f}"
        if isinstance(v, float)
        else str(v)
    )


def mixing_lines(mix: dict | None) -> list[str]:
    if not mix:
        return []
    lines = [
        f"Which source each factor follows, measured ({mix['n']} pairs at psi = 1, `--parts mixing`): the "
        "classifier's factors of source a, "
        f"source b and the image with a's styles 0..{mix['cutoff'] - 1} and b's others, over the pairs where a and b "
        "differ in that factor.",
        "",
        "| factor | pairs where a and b differ | mix matches a (coarse) | mix matches b (fine) |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['factor']} | {r['pairs']} | {fmt(r['coarse'])} | {fmt(r['fine'])} |" for r in mix["rows"]]
    coarse = [r["factor"] for r in mix["rows"] if r["coarse"] > r["fine"]]
    fine = [r["factor"] for r in mix["rows"] if r["fine"] > r["coarse"]]
    return [
        *lines,
        "",
        f"Following the coarse styles more often: {', '.join(coarse) or 'none'}; the fine styles: "
        f"{', '.join(fine) or 'none'}.",
        "",
    ]


def render_page(out: dict) -> str:
    m, tr, fig, pr = out["model"], out["training"], out["figures"], out["probe"]
    r = out["resolution"]
    budget = " (its `max_minutes` budget stopped it)" if tr["stopped_by_budget_at"] == out["checkpoint_step"] else ""
    lines = [
        "# StyleGAN-lite on shapes64 (`stylegan-lite`)",
        "",
        f"Made by `OMP_NUM_THREADS=1 python benchmarks/stylegan.py {out['run']} -n {out['args']['n']} --probe "
        f"{out['args']['probe']}` "
        f"(wall seconds per part: {', '.join(f'{k} {v:.0f}' for k, v in out['bench_s'].items())}) on 2 CPU cores "
        "shared with several other "
        f"engineers' jobs, torch {out['versions']['torch']} (1 thread), Python {out['versions']['python']}. Every "
        "number below comes from that "
        "script (`--parts` measures a subset into the saved results, `--render` rewrites this page from them); it "
        "reads the run trained by the "
        "command in the next table.",
        "",
        "## The family",
        "",
        "`src/genlab/models/stylegan.py` (config, training step, sampling), `stylegan_net.py` (networks), "
        "`src/genlab/nn/style.py` (blocks). "
        f"Mapping network of {m['mapping_layers']} equalised-lr layers z ({m['z_dim']}) -> w ({m['w_dim']}), width "
        f"`mapping_width` = {m['mapping_width']}, "
        f"learning-rate multiplier {m['mapping_lr_mul']}; learned constant 4x4 input; per layer `{m['style']}` "
        "(weight modulation/demodulation, StyleGAN2: the style scales the conv's input channels and demodulation "
        "rescales each output channel "
        "to unit variance, the same control as AdaIN without normalising the activations themselves, which is what "
        "caused StyleGAN's droplet "
        "artifacts; `--set style=adain` gives StyleGAN's AdaIN); per-pixel noise with a learned scale per channel; "
        "style mixing with probability "
        f"{m['style_mixing']}; the truncation trick around the tracked mean w (EMA, beta {m['w_avg_beta']}, a buffer "
        "saved in every checkpoint); "
        "a residual discriminator with minibatch standard deviation; non-saturating loss with lazy R1 "
        f"(gamma {m['r1']} every {m['r1_every']} steps); an EMA generator (decay {m['ema']}) that `sample` uses. "
        f"It works at {r}x{r}: real 64x64 batches are average-pooled to {r}x{r}, and samples are upsampled bilinearly "
        "to 64x64 so that "
        "`genlab eval` and the shapes extractor see the data set's shape. Figures show the generator's own "
        f"{r}x{r} output with every pixel doubled.",
        "",
        "```",
        out["command"],
        f"genlab sample {out['run']} -n 64 -o s.npz --grid s.png --set truncation={FIGURE_PSI}   # psi; --set "
        "noise=false: no noise inputs",
        "```",
        "",
        "## The run",
        "",
        "| run | parameters (G + D) | steps | training wall time | last loss_d / loss_g / D(real) / D(fake) | command "
        "|",
        "|---|---|---|---|---|---|",
        f"| {out['run']} | {out['parameters']:,} | {out['checkpoint_step']}{budget} | {tr['train_s'] / 60:.1f} min "
        "(shared machine) | "
        + " / ".join(f"{tr['last'][k]:.3f}" for k in ("loss_d", "loss_g", "d_real", "d_fake"))
        + f" | `{out['command']}` |",
        "",
        "Training wall time is the last `elapsed_s` of the run's metrics.jsonl. The generator saw "
        f"{out['checkpoint_step'] * out['batch_size']:,} "
        "images (steps x batch size); StyleGAN's own runs see 25 million, so read everything below as an "
        "early-training snapshot. "
        "A wall-clock budget stops at a machine-dependent step; to rebuild this checkpoint anywhere, run the command "
        "with "
        f"`--steps {out['checkpoint_step']}` and without `--set max_minutes=...` (no schedule of the family depends "
        "on the total number of steps).",
        "",
        "## Samples and FID",
        "",
        f"n = {out['args']['n']} samples per row (seed 0), shapes extractor "
        '(`Evaluator(load_reference("shapes64-test"), get_extractor("shapes"))`), '
        "reference: the 5 000 shapes64 test images. KID x 1000. The second row is the floor of any generator at this "
        "resolution.",
        "",
        "| images | FID | KID x 1000 | precision | recall | coverage | IS (motifs) | motifs covered |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in out["fid"]:
        lines.append(
            f"| {row['what']} | {row['fid']:.2f} | {1000 * row['kid']:.2f} | {row['precision']:.3f} | "
            f"{row['recall']:.3f} | {row['coverage']:.3f} | {row['inception_score']:.2f} | {row['modes_covered']}/6 |"
        )
    gen_rows = [row for row in out["fid"] if "psi" in row]
    best = min(gen_rows, key=lambda row: row["fid"])
    recalls, psis = (
        " -> ".join(f"{row['recall']:.3f}" for row in gen_rows),
        " -> ".join(str(row["psi"]) for row in gen_rows),
    )
    precisions = " -> ".join(f"{row['precision']:.3f}" for row in gen_rows)
    traded = gen_rows[-1]["precision"] > gen_rows[0]["precision"] and gen_rows[-1]["fid"] > gen_rows[0]["fid"]
    reading = (
        ": truncation buys typical samples (higher precision) with diversity, and FID, a distance between whole "
        "distributions, counts the loss"
        if traded
        else ""
    )
    lines += [
        "",
        f"Lowest FID at psi = {best['psi']}. As psi goes {psis}, precision goes {precisions} and recall "
        f"{recalls}{reading}.",
        "",
        "![64 samples, psi = 1, as `genlab sample` draws them (64x64)](stylegan-samples.png)",
        "",
        "## Style mixing",
        "",
        f"Top row: the column sources; left column: the row sources. Each cell takes styles 0..{fig['cutoff'] - 1} "
        "(the 4x4 and both 8x8 "
        f"convolutions: the coarse styles) from its row's source and styles {fig['cutoff']}..{fig['num_ws'] - 1} (8x8 "
        "toRGB, 16x16, 32x32) "
        f"from its column's source; psi = {FIGURE_PSI}, the same noise images in every cell.",
        "",
        "![style mixing grid](stylegan-mixing.png)",
        "",
        *mixing_lines(out.get("mixing")),
        "## Truncation",
        "",
        "Rows: psi = 1.0, 0.7, 0.5 and 0 (the tracked mean w); columns: the same eight z, the same noise. FID per psi "
        "is in the table above.",
        "",
        "![truncation sweep](stylegan-truncation.png)",
        "",
        "## Noise",
        "",
        f"Rows: five w (psi = {FIGURE_PSI}). Columns: noise off, four noise draws, and the per-pixel standard "
        "deviation of the luminance over "
        f"16 draws (white = {fig['std_max']:.3f} in [-1, 1] units). Mean |learned noise scale| over all layers and "
        "channels: "
        f"{fig['noise_strength_mean_abs']:.4f}; mean |pixel change| from noise off to noise on: "
        f"{fig['noise_mean_abs_change']:.4f} (in [-1, 1] units).",
        "",
        "![noise off / on](stylegan-noise.png)",
        "",
        "## Does w separate the factors better than z?",
        "",
        f"{pr['n']} samples (psi = 1, seed 2); the factors of each generated image are the shipped shapes64 "
        "classifier's predictions "
        "(`genlab.eval.shapes_features.predict_factors`) on the 64x64 sample. How far those labels can be trusted: "
        "the classifier's accuracy on "
        f"the first 2 000 real test images, at full size and pooled to {r}x{r} and back:",
        "",
        "| factor | " + " | ".join(FACTOR_NAMES) + " |",
        "|---" * (len(FACTOR_NAMES) + 1) + "|",
        "| full size | " + " | ".join(f"{a:.3f}" for a in pr["reliability"]["full"]) + " |",
        f"| pooled to {r} | " + " | ".join(f"{a:.3f}" for a in pr["reliability"]["pooled"]) + " |",
        "",
        "Linear probe: standardised multinomial logistic regression (scikit-learn, max_iter 2000) fitted on the "
        f"first {pr['n_fit']} samples' "
        "z or w, accuracy on the rest. *Values seen*: values of the factor predicted for at least 2 % of the samples; "
        "*majority*: always "
        "guessing the most frequent value.",
        "",
        "| factor | values | values seen | majority | probe on z | probe on w | w - z |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in pr["rows"]:
        lines.append(
            f"| {row['factor']} | {row['values']} | {row['seen']} | {row['majority']:.3f} | {fmt(row['z'])} | "
            f"{fmt(row['w'])} | {fmt(row['w'] - row['z'])} |"
        )
    ok = [row for row in pr["rows"] if not (np.isnan(row["z"]) or np.isnan(row["w"]))]
    wins = sum(row["w"] > row["z"] for row in ok)
    mean_z, mean_w = (float(np.mean([row[k] for row in ok])) for k in ("z", "w"))
    dis = pr["disentanglement"]
    lines += [
        "",
        f"Over the {len(ok)} factors: the probe on w is more accurate than on z for {wins}; mean accuracy "
        f"{mean_z:.3f} (z) vs {mean_w:.3f} (w).",
        "",
        "MIG and DCI (random forests, `genlab.eval.disentangle`) of the same codes against the same predicted factors:",
        "",
        "| code | MIG | DCI disentanglement | DCI completeness | DCI informativeness |",
        "|---|---|---|---|---|",
    ]
    for code in ("z", "w"):
        d = dis[code]
        lines.append(
            f"| {code} | {d['mig']:.3f} | {d['dci_disentanglement']:.3f} | {d['dci_completeness']:.3f} | "
            f"{d['dci_informativeness']:.3f} |"
        )
    lines += [
        "",
        READING,
        "",
        "## Caveats",
        "",
        "One training seed and a short CPU run (the table above); the factor labels of generated images are a "
        "classifier's guesses, and a "
        "sample that matches no real value still gets one, so the probe measures how linearly z or w predicts what "
        "the classifier sees; "
        "FID and friends are in the shapes classifier's feature space, not Inception's, at n = "
        f"{out['args']['n']} (biased upwards: compare with the real rows, not with other papers).",
        "",
    ]
    return "\n".join(lines)


def mixing_attribution(family, n: int = 1000, seed: int = 3) -> dict:
    """Which source each factor of a mixed image follows: n pairs (z_a, z_b) at psi = 1, the image of a's
    coarse styles with b's fine ones, every factor predicted by the shapes64 classifier for a, b and the mix
    (the same noise images for all three). Per factor, over the pairs where a and b differ in it: the share
    of mixes that match a (coarse) and b (fine)."""
    classifier, cutoff, gen = load_shapes_cnn(), coarse_cutoff(8), torch.Generator().manual_seed(seed)
    za, zb = (torch.randn(n, family.cfg.z_dim, generator=gen) for _ in range(2))
    wa, wb = family.styles(za, psi=1.0), family.styles(zb, psi=1.0)
    mixed = torch.cat([wa[:, :cutoff], wb[:, cutoff:]], dim=1)

    def factors(ws: torch.Tensor) -> np.ndarray:  # same per-batch noise seed for every set of styles
        images = [
            to_uint8(family.render(ws[i : i + 500], generator=torch.Generator().manual_seed(seed + i)))
            for i in range(0, n, 500)
        ]
        return predict_factors(classifier, np.concatenate(images))

    pa, pb, pm = factors(wa), factors(wb), factors(mixed)
    rows = []
    for j, name in enumerate(FACTOR_NAMES):
        differ = pa[:, j] != pb[:, j]
        k = int(differ.sum())
        rows.append(
            {
                "factor": name,
                "pairs": k,
                "coarse": float((pm[differ, j] == pa[differ, j]).mean()) if k else float("nan"),
                "fine": float((pm[differ, j] == pb[differ, j]).mean()) if k else float("nan"),
            }
        )
    return {"n": n, "cutoff": cutoff, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("-n", type=int, default=2000, help="samples per FID row")
    parser.add_argument("--probe", type=int, default=5000, help="generated samples for the linear probe")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"what to measure, comma-separated ({', '.join(PARTS)}); a subset updates the saved results",
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="rewrite the page from runs/stylegan-bench/results.json without measuring again",
    )
    args = parser.parse_args()
    if args.render:  # the saved measurements, with the run's description read again from its directory
        family, run, meta = load_family(args.run)
        out = json.loads(SAVED.read_text())
        if out["checkpoint_step"] != meta["step"]:
            parser.error("the saved results are from another checkpoint: measure every part again")
        out.update(run_metadata(args.run, family, run, meta))
        atomic_write_text(RESULTS / "stylegan.md", render_page(out))
        return
    parts = [p for p in args.parts.split(",") if p]
    if set(parts) - set(PARTS):
        parser.error(f"unknown part(s) {sorted(set(parts) - set(PARTS))}; known: {', '.join(PARTS)}")
    torch.set_num_threads(1)
    start = time.perf_counter()
    family, run, meta = load_family(args.run)
    out = json.loads(SAVED.read_text()) if set(parts) != set(PARTS) else {"bench_s": {}}
    if not isinstance(
        out["bench_s"], dict
    ):  # results saved before --parts existed: one time for figures, fid and probe
        out["bench_s"] = {"figures+fid+probe": out["bench_s"]}
    if out.get("checkpoint_step", meta["step"]) != meta["step"]:
        parser.error("the saved results are from another checkpoint: measure every part again")
    out.update({"args": {"n": args.n, "probe": args.probe}, **run_metadata(args.run, family, run, meta)})
    measure = {
        "figures": lambda: figures(family),
        "fid": lambda: fid_rows(family, args.n),
        "probe": lambda: probes(family, args.probe),
        "mixing": lambda: mixing_attribution(family),
    }
    for part in parts:
        t = time.perf_counter()
        out[part] = measure[part]()
        out["bench_s"][part] = time.perf_counter() - t
    SAVED.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(SAVED, json.dumps(out, indent=1) + "\n")
    atomic_write_text(RESULTS / "stylegan.md", render_page(out))
    print(f"wrote {RESULTS / 'stylegan.md'} and {SAVED} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
