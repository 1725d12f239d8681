"""Model cards (Mitchell et al. 2019, "Model Cards for Model Reporting"), from a run directory alone.

:func:`write_card` reads config.yaml, metrics.jsonl and the checkpoints and writes
``card.md``; :func:`evaluate_for_card` adds per-class quality from the evaluation suite
(``genlab card RUN --evaluate``). Nothing is invented: a section without data says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.atomic import atomic_write_text
from genlab.errors import ConfigError
from genlab.eval.evaluate import KID_LABEL, METRICS, format_metric, metric_label
from genlab.files import MAX_CONFIG_BYTES, read_json
from genlab.marks.invisible import SCHEME
from genlab.marks.keys import fingerprint, load_private_key
from genlab.marks.provenance import config_hash, run_id
from genlab.models.registry import get_family
from genlab.publish.card_text import DATA_SOURCES, INTENDED_USE, MEASUREMENT, misuse_lines
from genlab.runs.loading import load_family
from genlab.runs.lock import run_lock
from genlab.runs.marks import payload_for
from genlab.runs.rundir import RunConfig, find_checkpoint, read_config, read_config_doc, read_metrics

UNBALANCED = (0.05, 0.15)  # a digit class outside this share of the samples is called out


def write_card(run_dir: str | Path, evaluation: dict[str, Any] | None = None) -> Path:
    """Write ``run_dir/card.md`` and return its path. ``evaluation``: :func:`evaluate_for_card`'s result."""
    run_dir = Path(run_dir)
    run = read_config(run_dir)
    with run_lock(run_dir, "genlab card"):  # a training in progress owns the run directory
        return atomic_write_text(run_dir / "card.md", render_card(run_dir, run, evaluation))


def render_card(run_dir: Path, run: RunConfig, evaluation: dict[str, Any] | None = None) -> str:
    """The card's Markdown text."""
    config = run.to_dict()
    raw = read_config_doc(run_dir)
    versions = raw.get("versions") if isinstance(raw.get("versions"), dict) else {}
    records = read_metrics(run_dir)
    spec = get_family(run.family)
    ckpt_path = find_checkpoint(run_dir)
    family, _, meta = load_family(run_dir)
    tc = run.train
    lines = [
        f"# Model card: {run.family} run `{run_id(config)}`",
        "",
        "All images this model produces are AI-generated. Do not present them as real.",
        "",
        "## Model details",
        f"- Family: `{run.family}` — {spec.description}",
        f"- {parameter_line(family.parameter_counts())}",
        f"- Trained {meta['step']} steps ({meta['epoch']:.2f} epochs) at batch size {tc.batch_size}, seed {tc.seed}",
        f"- Checkpoint: `{ckpt_path.name}` (tensors sha256 `{meta['sha256']}`)",
        *_teacher_lines(config),
        f"- Config hash: `{config_hash(config)}`; full config in `config.yaml`",
        f"- Made with genlab {versions.get('genlab', 'unknown')} (git commit "
        f"{versions.get('git_commit', 'unknown')}), torch {versions.get('torch', 'unknown')}",
        "",
        "## Intended use",
        *INTENDED_USE,
        "",
        "## Misuse scenarios (out of scope)",
        *misuse_lines(tc.dataset),
        "",
        "## Training data",
        *_data_lines(run_dir, run),
        "",
        "## Metrics",
        *_metric_lines(records, evaluation),
        "",
        "## Known biases and limitations",
        *_limitation_lines(run, records, evaluation),
        "",
        "## Watermark and provenance",
        *_publishing_lines(run, config),
        "",
    ]
    return "\n".join(lines)


def _data_lines(run_dir: Path, run: RunConfig) -> list[str]:
    """The data a run trained on: a named set's description and licence, or a path source's prepared record
    (``data.json``, written by the trainer) with the licence the user gave (``--data-license``)."""
    tc = run.train
    source = DATA_SOURCES.get(tc.dataset)
    path = run_dir / "data.json"
    if source or not path.is_file():
        licence = source[1] if source else tc.data_license
        return [
            f"- `{tc.dataset}` (train split): {source[0]}" if source else f"- `{tc.dataset}` (train split)",
            f"- Licence: {licence}"
            if licence
            else "- Licence: not recorded in genlab.publish.card_text.DATA_SOURCES; check the source before "
            "publishing.",
        ]
    record = read_json(path, MAX_CONFIG_BYTES, "run data record")
    record = record if isinstance(record, dict) else {}
    classes = record.get("classes") or []
    shown = ", ".join(f"`{c}`" for c in classes[:20]) + (f" and {len(classes) - 20} more" if len(classes) > 20 else "")
    split = record.get("split", {})
    held = (
        f"a held-out {split.get('test_fraction')} of the files (seed {split.get('seed')})"
        if split.get("kind") == "held-out"
        else "the data's own test split"
    )
    images = record.get("images", {})
    return [
        f"- Source: `{record['source']}` ({record.get('container')}, {record.get('kind')}), your own data",
        f"- Prepared: {images.get('train')} train and {images.get('test')} test images ({held}) at "
        f"{record.get('image_size')}x{record.get('image_size')}, {record.get('channels')} channel(s); "
        f"{record.get('skipped', 0)} unreadable files skipped, {record.get('upscaled', 0)} images upscaled",
        f"- Classes ({len(classes)}): {shown}" if classes else "- Classes: none (unlabelled)",
        f"- Manifest key `{record.get('key')}`; file list sha256 `{record.get('file_list_sha256')}`; prepared pixels "
        f"and labels sha256 `{record.get('arrays_sha256')}`",
        f"- Licence: {tc.data_license}"
        if tc.data_license
        else "- Licence: not given (train with --data-license); check the data's terms before publishing.",
    ]


def parameter_line(counts: dict[str, int]) -> str:
    """The parameter counts as the card states them (``Family.parameter_counts``: one definition everywhere)."""
    extra = []
    if counts["buffers"]:
        extra.append(f"{counts['buffers']:,} buffer values (BatchNorm running statistics, counters)")
    if counts["frozen"]:
        extra.append(f"{counts['frozen']:,} frozen values (EMA copies, frozen parts)")
    return f"Parameters: {counts['parameters']:,} trainable weights" + (
        f"; also saved, not trained: {' and '.join(extra)}" if extra else ""
    )


def evaluate_for_card(
    run_dir: str | Path, n: int = 2000, seed: int = 0, data_dir: str | Path | None = None
) -> dict[str, Any]:
    """Score ``n`` fresh samples with the evaluation suite, plus per-class accuracy for conditional models."""
    from genlab.eval.evaluate import Evaluator, load_reference
    from genlab.eval.features import DigitExtractor
    from genlab.runs.loading import sample_in_batches

    family, run, meta = load_family(run_dir)
    if run.train.dataset != "mnist":
        raise ConfigError(
            f"--evaluate needs an MNIST run (the digit classifier); this run trained on {run.train.dataset!r}"
        )
    labels = torch.arange(n) % family.info.num_classes if family.conditional else None
    images = sample_in_batches(family, n, labels=labels, seed=seed)
    result = Evaluator(load_reference("mnist-test", data_dir), seed=seed)(
        images, None if labels is None else labels.numpy()
    )
    result.update(n=n, seed=seed, step=int(meta["step"]))
    if labels is not None:
        predicted = DigitExtractor().probs(images).argmax(axis=1)
        truth = labels.numpy()
        result["per_class_accuracy"] = [
            float((predicted[truth == k] == k).mean()) for k in range(family.info.num_classes)
        ]
    return result


def _teacher_lines(config: dict[str, Any]) -> list[str]:
    """A distilled student's teacher, as its config pins it (none for other runs)."""
    model = config.get("model") or {}
    if not model.get("teacher_run_id"):
        return []
    return [
        f"- Distilled from teacher run `{model['teacher_run_id']}` (`{model['teacher']}`, checkpoint "
        f"{model['teacher_checkpoint']}, weights `{model['teacher_hash']}`) at classifier-free guidance w = "
        f"{model['guidance']:g}; it samples in {model['sample_steps']} step(s) at that w or unconditionally"
    ]


def _metric_lines(records: list[dict[str, Any]], evaluation: dict[str, Any] | None) -> list[str]:
    train = [r for r in records if "epoch" in r]
    held_out = [r for r in records if any(k.startswith("test_") for k in r)]
    evals = [r for r in records if "eval_fid" in r]
    lines = []
    if train:
        last = train[-1]
        losses = ", ".join(
            f"{k} {v:.4g}"
            for k, v in last.items()
            if k not in ("step", "epoch", "images_per_s", "step_s", "elapsed_s", "peak_rss_mb")
            and not k.startswith("lr_")
        )
        lines.append(f"- Training losses at step {last['step']}: {losses}. {MEASUREMENT['train']}")
        rates = ", ".join(f"{k[3:]} {v:.3g}" for k, v in last.items() if k.startswith("lr_"))
        if rates:
            lines.append(f"- Learning rates at step {last['step']}: {rates}.")
    if held_out:
        last = held_out[-1]
        values = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k.startswith("test_"))
        lines.append(f"- Held-out at step {last['step']}: {values}. {MEASUREMENT['test']}")
    if evals:
        best = min(evals, key=lambda r: r["eval_fid"])
        last = evals[-1]
        setting = f"n={last['eval_n']}, {last.get('eval_extractor', 'digits')} extractor" if "eval_n" in last else ""
        lines.append(
            f"- In-training FID{f' ({setting})' if setting else ''}: {last['eval_fid']:.2f} at step {last['step']} "
            f"(best {best['eval_fid']:.2f} at step {best['step']}). {MEASUREMENT['eval']}"
        )
    if evaluation:
        scored = ", ".join(
            f"{metric_label(name, evaluation)} {format_metric(name, evaluation)}"
            for name in METRICS
            if name in evaluation
        )
        lines.append(
            f"- Evaluation suite ({KID_LABEL}) on {evaluation['n']} samples (seed {evaluation['seed']}, step "
            f"{evaluation['step']}): {scored}. {MEASUREMENT['card']}"
        )
    return lines or ["- No metrics recorded yet (metrics.jsonl is empty)."]


def _size(tc) -> str:
    """How the run was sized: its wall-clock budget, steps or epochs."""
    if tc.budget_only:
        return f"at most {tc.max_minutes:g} minutes"
    return f"{tc.steps} steps" if tc.steps else f"{tc.epochs} epochs"


def _limitation_lines(run: RunConfig, records: list[dict[str, Any]], evaluation: dict[str, Any] | None) -> list[str]:
    lines = [
        f"- A small model trained on a CPU for {_size(run.train)}: judge its samples by the metrics above, against "
        "real data's numbers (docs/results/baselines.md).",
    ]
    source = DATA_SOURCES.get(run.train.dataset)
    if source:
        lines.append(f"- It reproduces its training data's biases and nothing outside it: {source[2]}.")
    warnings = [r["warning"] for r in records if "warning" in r]
    if warnings:
        lines.append(f"- The training monitor warned {len(warnings)} time(s), last: {warnings[-1]}")
    if evaluation and "class_histogram" in evaluation:
        counts = np.asarray(evaluation["class_histogram"], float)
        shares = counts / counts.sum()
        low, high = UNBALANCED
        off = [f"{k}: {s:.1%}" for k, s in enumerate(shares) if not low <= s <= high]
        per_class = "  ".join(f"{k}: {s:.1%}" for k, s in enumerate(shares))
        lines.append(f"- Class balance of samples by the digit classifier (real data: about 10% each): {per_class}.")
        lines.append(
            f"- Classes outside {low:.0%}..{high:.0%}: {', '.join(off)}."
            if off
            else f"- Every class lies within {low:.0%}..{high:.0%} of the samples."
        )
    if evaluation and "per_class_accuracy" in evaluation:
        worst = int(np.argmin(evaluation["per_class_accuracy"]))
        accuracies = "  ".join(f"{k}: {a:.1%}" for k, a in enumerate(evaluation["per_class_accuracy"]))
        lines.append(f"- Per-class conditional accuracy (asked-for digit recognised): {accuracies}; weakest: {worst}.")
    if not evaluation:
        lines.append("- Per-class quality not measured for this card; run `genlab card RUN --evaluate`.")
    return lines


def _publishing_lines(run: RunConfig, config: dict[str, Any]) -> list[str]:
    tc = run.train
    visible = (
        f'on, text "{tc.watermark_text}" (band under each grid, "AI" tiled faintly over the pictures)'
        if tc.visible_watermark
        else "OFF (visible_watermark: false in config.yaml)"
    )
    lines = [f"- Visible watermark on sample grids: {visible}."]
    if tc.watermark_key:
        payload = payload_for(run.family, run_id(config))
        lines.append(
            f"- Invisible watermark: {SCHEME}, payload 0x{payload:08x} (model id 0x{payload >> 16:04x}, run id "
            f"0x{payload & 0xFFFF:04x}); detect with `genlab watermark detect IMAGE --key "
            f"{Path(tc.watermark_key).name}`."
        )
    else:
        lines.append("- Invisible watermark: off (set watermark_key to a key from `genlab keys new`).")
    if tc.sign_key:
        try:
            who = fingerprint(load_private_key(tc.sign_key).public_key())
        except ConfigError:
            who = "key file not readable now"
        lines.append(
            "- Provenance: PNG text chunks (generator, run id, config and checkpoint hashes, seed, sampler settings, "
            f"genlab version), signed with Ed25519 key {who}; check with `genlab verify IMAGE --key "
            "signing-key.pub.pem`."
        )
    else:
        lines.append(
            "- Provenance: PNG text chunks (generator, run id, config and checkpoint hashes, seed, sampler settings, "
            "genlab version), unsigned (set sign_key to sign)."
        )
    lines.append("- Robustness of the invisible mark at each image size: docs/results/watermark.md.")
    return lines
