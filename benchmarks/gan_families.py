"""Every GAN family under the same training budget, scored by one evaluation suite.

    python benchmarks/gan_families.py --steps 1000          # writes docs/results/gan.md

Each family trains from scratch (preset ``small``, seed 0, batch 64) for the same number
of generator steps (the Wasserstein families take their n_critic = 5 critic steps per
generator step, as in their papers). The budget is counted in steps rather than seconds
so that it does not depend on what else the machine is doing; the wall time each run
took is reported beside it. Every run evaluates itself during training
(FID, coverage and the class histogram with the digit classifier, 500 samples, 4 times) so
the W-estimate-vs-FID and collapse figures come from the same runs. Final numbers use
``-n`` samples (default 2 000) against the MNIST test set (shapes64 test set and the shapes classifier
for ``dcgan64``). Conditional families are sampled with labels cycling 0..9.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
from pathlib import Path

import torch

from genlab.config import TrainConfig
from genlab.data import save_grid
from genlab.eval.evaluate import Evaluator, format_metric, load_reference
from genlab.eval.extractors import get_extractor
from genlab.models.registry import family_names, get_family
from genlab.runs import RunConfig, read_metrics
from genlab.runs.loading import grid_labels, load_family, sample_in_batches
from genlab.training import train

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
FAMILIES = ["gan", "cgan", "dcgan", "cdcgan", "wgan", "wgan-gp", "numpy-gan", "dcgan64"]
COLUMNS = ["fid", "kid", "precision", "recall", "coverage", "modes_covered", "conditional_accuracy"]


def evaluator_for(dataset: str) -> Evaluator:
    if dataset == "shapes64":
        return Evaluator(load_reference("shapes64-test"), get_extractor("shapes"))
    return Evaluator(load_reference("mnist-test"))


def run_family(name: str, steps: int, out: Path, n_eval: int, batch_size: int) -> dict:
    spec = get_family(name)
    model_cfg = spec.config_cls(**spec.presets.get("small", {}))
    eval_every = max(25, steps // 4)
    tc = TrainConfig(
        dataset=spec.dataset,
        seed=0,
        batch_size=batch_size,
        steps=steps,
        log_every=max(10, steps // 60),
        sample_every=steps,
        checkpoint_every=steps,
        eval_every=eval_every,
        eval_samples=500,
        grid_size=100,
    )
    run_dir = out / name
    shutil.rmtree(run_dir, ignore_errors=True)
    train(RunConfig(name, model_cfg, tc), run_dir, quiet=True, evaluate=evaluator_for(spec.dataset))
    return score_run(run_dir, n_eval)


def score_run(run_dir: Path, n_eval: int) -> dict:
    """Final scores, sample grid and wall time of a finished benchmark run."""
    family, run, meta = load_family(run_dir)
    labels = torch.arange(n_eval) % family.info.num_classes if family.conditional else None
    images = sample_in_batches(family, n_eval, labels=labels, seed=1)
    scores = evaluator_for(run.train.dataset)(images, None if labels is None else labels.numpy())
    grid_lab = grid_labels(100, family.info.num_classes) if family.conditional else None
    save_grid(RESULTS / f"gan-{run.family}.png", sample_in_batches(family, 100, labels=grid_lab, seed=2))
    wall = max(r["elapsed_s"] for r in read_metrics(run_dir) if "elapsed_s" in r)
    return {
        "family": run.family,
        "dataset": run.train.dataset,
        "steps": int(meta["step"]),
        "train_s": wall,
        "params": family.num_parameters(),
        "scores": scores,
        "config": run.to_dict()["model"],
    }


def write_doc(rows: list[dict], steps: int, batch_size: int, n_eval: int, command: str) -> None:
    lines = [
        "# GAN families under one training budget",
        "",
        f"Produced by `{command}` on {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch "
        f"{torch.__version__}"
        f". Each family: preset `small`, seed 0, batch {batch_size}, {steps} generator steps "
        "(n_critic = 5 critic steps each for `wgan` and `wgan-gp`). Wall time is what the run took on this machine, "
        "including its "
        "four in-training evaluations, and depends on the load: other jobs shared the 2 cores, and the rows were "
        "trained at different "
        "times under different loads (from an idle machine to load 8), so wall times are not comparable across rows; "
        "the equal "
        "budget is the step count. "
        f"Scores: {n_eval} samples vs the MNIST test set with the digits extractor (FID, KID x 1000, "
        "precision/recall/coverage k=5), "
        "`dcgan64` vs the shapes64 test set with the shapes classifier. Conditional families sample labels 0..9 in "
        "turn; conditional "
        "accuracy is the share the classifier assigns to the requested label. Compare FID only within one data set.",
        "",
        "| family | data | params | steps | wall (s) | FID | KID x1000 | precision | recall | coverage | classes "
        "covered | cond. acc. |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        s = r["scores"]
        cells = [format_metric(k, s) for k in COLUMNS]
        lines.append(
            f"| `{r['family']}` | {r['dataset']} | {r['params']:,} | {r['steps']} | {r['train_s']:.0f} | "
            + " | ".join(cells)
            + " |"
        )
    missing = [f for f in FAMILIES if f not in {r["family"] for r in rows}]
    if missing:
        lines += ["", f"Not in this table yet (not run at this budget): {', '.join(f'`{f}`' for f in missing)}."]
    lines += ["", "Final samples (10x10; conditional families one class per row):", ""]
    lines += [f"- `{r['family']}`: ![{r['family']}](gan-{r['family']}.png)" for r in rows]
    captions = {
        "gan-wgan-gp-w-vs-fid.png": "`wgan-gp`'s logged `w_estimate` = E D(x) − E D(G(z)) and its FID over training.",
        "gan-collapse.png": "A deliberately collapsing MLP GAN (G's learning rate 10× D's, no dropout; `COLLAPSE` in "
        "the script) beside "
        "the `dcgan` run: the share of samples the digit classifier puts in each class at each evaluation, and "
        "coverage.",
    }
    figures = [f for f in captions if (RESULTS / f).is_file()]
    lines += [
        "",
        "## Figures from the runs' in-training evaluations",
        "",
        "Made by `python benchmarks/gan_figures.py` from the runs above.",
        "",
    ]
    for f in figures:
        lines += [captions[f], "", f"![{f[:-4]}]({f})", ""]
    lines += [
        "Raw numbers: `gan-families.json` beside this file.",
        "",
    ]
    (RESULTS / "gan.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000, help="generator steps per family")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("-n", type=int, default=5000, help="samples scored per family")
    parser.add_argument("--out", type=Path, default=Path("runs/gan-bench"))
    parser.add_argument(
        "--doc-only", action="store_true", help="rewrite gan.md from gan-families.json without training"
    )
    parser.add_argument(
        "--from-runs", action="store_true", help="score the finished runs in --out instead of training"
    )
    args = parser.parse_args()
    command = f"python benchmarks/gan_families.py --steps {args.steps} -n {args.n}"
    if args.doc_only:
        write_doc(
            json.loads((RESULTS / "gan-families.json").read_text()), args.steps, args.batch_size, args.n, command
        )
        return
    names = [f for f in args.families.split(",") if f in family_names()]
    rows = []
    for name in names:
        finished = (args.out / name / "card.md").is_file()  # written when a run completes
        if args.from_runs and not finished:
            continue
        row = (
            score_run(args.out / name, args.n)
            if args.from_runs
            else run_family(name, args.steps, args.out, args.n, args.batch_size)
        )
        rows.append(row)
        print(
            json.dumps({k: v for k, v in row.items() if k != "scores"} | {k: row["scores"].get(k) for k in COLUMNS}),
            flush=True,
        )
    (RESULTS / "gan-families.json").write_text(json.dumps(rows, indent=1, default=str))
    write_doc(rows, args.steps, args.batch_size, args.n, command)


if __name__ == "__main__":
    main()
