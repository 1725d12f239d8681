"""The Markdown of docs/results/augmentation.md from benchmarks/augmentation.py's JSON (no training here)."""

from __future__ import annotations

import statistics
from typing import Any

ARM_TEXT = {
    "none": "(a) reduced set as is",
    "oversample": "(b) oversample the rare class",
    "affine": "(c) + affine copies",
    "cdcgan": "(d) + cdcgan samples",
    "ddpm": "(e) + DDPM samples",
    "cvae": "(f) + CVAE samples",
}
METRICS = ("rare_recall", "rare_precision", "accuracy", "other_recall")


def mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def cell(values: list[float]) -> str:
    mean, sd = mean_sd(values)
    return f"{mean:.3f} ± {sd:.3f}"


def generator_table(f: dict[str, Any], rare: int) -> list[str]:
    lines = [
        f"| source | preset | params | steps (asked) | train wall (s) | stopped by time cap | images | sampling (s) "
        f"| read as {rare} |",
        "|---|---|---:|---:|---:|:-:|---:|---:|---:|",
        f"| real {rare}s kept | – | – | – | – | – | {f['rare_count']} | – | {f['follows_label_real']:.3f} |",
        f"| affine copies (seed 0) | – | – | – | – | – | {f['target'] - f['rare_count']} | – "
        f"| {f['follows_label_affine']:.3f} |",
        f"| uniform noise (reference) | – | – | – | – | – | 500 | – | {f['follows_label_noise']:.3f} |",
    ]
    for g in f["generators"]:
        lines.append(
            f"| `{g['family']}` | {g['preset']} | {g['params']:,} | {g['steps']} ({g['steps_asked']}) | "
            f"{g['train_s']:.0f} | {'yes' if g['capped'] else 'no'} | {f['target'] - f['rare_count']} | "
            f"{g['sample_s']:.0f} | {g['follows_label']:.3f} |"
        )
    return lines


def arms_table(f: dict[str, Any]) -> list[str]:
    lines = [
        "| arm | train images | rare recall | rare precision | overall accuracy | other classes' recall | "
        "classifier wall (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm, runs in f["arms"].items():
        cells = [cell([r[m] for r in runs]) for m in METRICS]
        wall = statistics.fmean(r["train_s"] for r in runs)
        lines.append(f"| {ARM_TEXT[arm]} | {runs[0]['train_size']:,} | " + " | ".join(cells) + f" | {wall:.0f} |")
    return lines


def compare(f: dict[str, Any], a: str, b: str) -> str:
    """How arm ``a``'s rare recall stands against arm ``b``'s: the difference and whether it beats the seed spread."""
    ma, sa = mean_sd([r["rare_recall"] for r in f["arms"][a]])
    mb, sb = mean_sd([r["rare_recall"] for r in f["arms"][b]])
    verdict = "beyond" if abs(ma - mb) > sa + sb else "within"
    return f"{ma - mb:+.3f} ({verdict} the two sds summed)"


def reading(f: dict[str, Any], rare: int) -> list[str]:
    """Sentences computed from one cut rate's numbers: what each arm did against the simple ones."""
    recall = {arm: mean_sd([r["rare_recall"] for r in runs])[0] for arm, runs in f["arms"].items()}
    precision = {arm: mean_sd([r["rare_precision"] for r in runs])[0] for arm, runs in f["arms"].items()}
    best = max(recall, key=recall.get)
    share = f["rare_count"] / f["train_size"]
    lines = [
        f"- **{f['fraction'] * 100:g} % ({f['rare_count']} real {rare}s, {share:.2%} of the training images).** As "
        f"is, the classifier finds {recall['none']:.3f} of the test {rare}s (precision {precision['none']:.3f}). "
        f"Oversampling alone lifts that to {recall['oversample']:.3f}, affine copies to {recall['affine']:.3f} "
        f"(affine against oversampling: {compare(f, 'affine', 'oversample')}). Best arm: {ARM_TEXT[best]}.",
    ]
    beaten = []
    for g in f["generators"]:
        arm = g["family"]
        follows = "followed" if g["follows_label"] >= 0.5 else "did not follow"
        lines.append(
            f"- `{arm}` ({g['steps']} steps) {follows} the rare label: the digit classifier reads "
            f"{g['follows_label']:.3f} of its {rare}s as a {rare} (real {rare}s: {f['follows_label_real']:.3f}; "
            f"uniform noise: {f['follows_label_noise']:.3f}). Its arm: rare recall {recall[arm]:.3f}, precision "
            f"{precision[arm]:.3f}; against oversampling {compare(f, arm, 'oversample')}; against the reduced set "
            f"as is {compare(f, arm, 'none')}."
        )
        if recall[arm] > recall["oversample"]:
            beaten.append(arm)
    lines.append(
        "- Generated data beat plain oversampling on rare recall here for: "
        + (", ".join(f"`{a}`" for a in beaten) if beaten else "no generator")
        + "."
    )
    return lines


def render_page(result: dict[str, Any]) -> str:
    m, clf, gb, rare = result["machine"], result["classifier"], result["generator_budget"], result["rare"]
    end = result.get("load_average_end", [])
    lines = [
        "# Does generated data help a rare class?",
        "",
        f"Produced by `OMP_NUM_THREADS=1 {result['command'].strip()}` on {m['cpu']}, {m['cores']} CPU cores, torch "
        f"{m['torch']}, one torch thread, started {m['date']}; `uptime` load average {m['load_average']} at the start "
        f"and {end} at the end. The machine was shared with other engineers' jobs throughout, so every wall time "
        f"below depends on what else ran; the classifier's budget, equal across arms, is a step count. "
        f"Whole benchmark: {result['wall_s'] / 60:.1f} min. Raw numbers: `augmentation.json` beside this page; "
        "`python benchmarks/augmentation.py --render` rewrites this page from it.",
        "",
        "## Set-up",
        "",
        f"- Data: the MNIST training set with digit {rare} cut to a share of its images (seeded choice, data seed 0; "
        "the same reduced set for every arm and seed); the other nine classes whole. Test: the 10 000 MNIST test "
        "images.",
        f"- Classifier: a small CNN (two 3x3 conv blocks of 16 and 32 channels with ReLU and 2x2 max-pool, a 64-unit "
        f"hidden layer; {clf['params']:,} parameters), Adam lr {clf['lr']:g}, {clf['steps']} steps of batch "
        f"{clf['batch_size']} drawn uniformly with replacement from the arm's training set: the same optimiser-step "
        f"budget for every arm. {result['seeds']} classifier seeds per arm (the seed fixes the initial weights, the "
        "batches, and the oversampling or affine draw); cells are mean ± sd over them.",
        "- Arms: the rare class is brought to the median count of the other classes (the target) by (b) repeating "
        "its images (each ⌊target/n⌋ or one more times), (c) adding random affine copies of them (rotation ±15°, "
        "shift ±2 px, zoom 0.9-1.1, bilinear; torch `affine_grid`/`grid_sample`), or (d)-(f) adding samples of that "
        "class from a generative model trained on the same reduced set (the real rare images stay in).",
        f"- Generators: `cdcgan` (the conditional GAN of [gan.md](gan.md): conditional accuracy 0.64 against "
        f"`cgan`'s 0.36 there), `ddpm` (class-conditional, preset small, label dropout 0.1; sampled with DDIM "
        f"{gb['ddim_steps']} steps, guidance w = 1, bfloat16 autocast as in [ddim-speed.md](ddim-speed.md)) and "
        "`cvae` (preset small), each trained by genlab's trainer "
        f"(`genlab.training.train`, what `genlab train FAMILY --data reduced.npz` runs) on the reduced set written "
        f"as an `.npz`, batch {gb['gen_batch']}, seed 0, with a wall-time cap of {gb['gen_minutes_cap']:g} min "
        "(`max_minutes`). **One generator training seed per cut rate** (the budget allowed no more): the generator "
        "rows are single runs, and only the classifier's seed varies in the sds. The steps asked differ by family "
        "(sized to about the same minutes each on an idle core; the CVAE needs far fewer); where the time cap "
        "stopped a run first, the equal budget was its wall time, and the steps it reached are in the tables.",
        "- Read as: the share of images the shipped MNIST digit classifier (`genlab.eval` extractor `digits`) "
        "assigns to the rare digit: whether a generator followed the rare label. That classifier reads uniform noise "
        "as an 8 with probability about 1, so with 8 as the rare digit a failed generator would look perfect; the "
        "default rare digit is therefore 5 (also MNIST's smallest class), and the noise row checks it.",
        "",
    ]
    for f in result["fractions"]:
        lines += [
            f"## Digit {rare} kept at {f['fraction'] * 100:g} % ({f['rare_count']} of {f['rare_count_full']} images)",
            "",
            f"Reduced training set: {f['train_size']:,} images; target for the rare class: {f['target']:,} (median of "
            "the other classes).",
            "",
            *generator_table(f, rare),
            "",
            *arms_table(f),
            "",
            f"Rows: real kept {rare}s, affine copies, `cdcgan`, `ddpm`, `cvae` samples (first 10 of each):",
            "",
            f"![rare class sources](augmentation-rare{rare}-f{f['fraction']:g}.png)",
            "",
        ]
    lines += [
        "## Reading",
        "",
        "Every arm but (a) raises the rare class from a fraction of a percent to about a tenth of the training "
        "images, so every batch holds some images labelled with it; oversampling shows what that alone is worth. An "
        "added image helps beyond that only if it is a new, correct example of the rare digit, and harms if it is "
        "another digit or noise labelled as the rare one: the 'read as' column says which a generator gave. The "
        "sentences below are computed from the tables by the renderer.",
        "",
    ]
    for f in result["fractions"]:
        lines += reading(f, rare)
    lines += [
        "",
        "## Limits",
        "",
        "- One rare digit, one reduced set per cut rate and one training run per generator: a generator that "
        "happened to train well or badly decides its row; the sds cover only the classifier's seed.",
        "- The generators' budgets are minutes on one CPU thread (steps in the tables), far below a converged model "
        "([diffusion.md](diffusion.md)'s DDPM trained 5000 steps of batch 128): the DDPM in particular was stopped "
        "while its samples were still mostly noise. With so few rare images a conditional model meets the rare "
        "label in about one training image in a thousand (1 %) or ten thousand (0.1 %), which is the situation the "
        "course's claim is about; a longer budget, or a generator pretrained elsewhere, may follow the label.",
        "- The classifier is small and trained for a fixed, short step budget; a larger one, class weights, or a "
        "longer schedule could change which arm wins.",
        "- The generators stopped by the time cap reached different step counts at the two cut rates because the "
        "machine's load changed between them; the tables give the steps each one trained.",
        "- 'Read as' trusts a classifier trained on full MNIST; a sample it reads as the digit can still be off the "
        "data manifold.",
        "",
    ]
    return "\n".join(lines)
