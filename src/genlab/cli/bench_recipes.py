"""``genlab bench recipes``: every family's documented command at its budget, on several seeds, against its bar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.app import DataDir, out
from genlab.cli.bench import Threads, _families, _setup, bench_app
from genlab.errors import ConfigError

DEFAULT_RECIPES_DOC = Path("docs/results/recipes.md")


def _seeds(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--seeds must be comma-separated integers like 0,1,2; got {text!r}") from None
    if not values or min(values) < 0 or len(set(values)) != len(values):
        raise ConfigError(f"--seeds must list distinct integers >= 0; got {text!r}")
    return values


@bench_app.command(
    "recipes",
    help="Train each family's documented command at its CPU budget (10 min for MNIST families and pix2pix, 15 for "
    "cyclegan, 30 for numpy-gan and the shapes64 ones) on each seed, score 2 000 samples with the data's classifier "
    "(FID, classes covered, recall, confident share, conditional accuracy; translation: FID and L1 against the "
    "copy-the-input baseline) and (re)write docs/results/recipes.md: the bar met, or by how much it "
    "misses. Results accumulate in recipes.json beside the page, so families can be measured by separate runs.",
)
def recipes(
    ctx: typer.Context,
    families: Annotated[str, typer.Option(help="Comma-separated families (default: every recipe).")] = "",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    budget_scale: Annotated[
        float, typer.Option("--budget-scale", help="Train for this multiple of each budget (the page says so).")
    ] = 1.0,
    n: Annotated[int, typer.Option("-n", help="Samples scored per run.")] = 2000,
    reference_n: Annotated[int, typer.Option("--reference-n", help="Test images the scores compare with.")] = 10_000,
    runs: Annotated[
        Path,
        typer.Option(
            "--runs",
            help="Folder of the training runs, named FAMILY+key=value...-seedN by their options; an existing "
            "one is never rerun.",
        ),
    ] = Path("runs/bench-recipes"),
    doc: Annotated[Path, typer.Option("--doc", help="The page to (re)write.")] = DEFAULT_RECIPES_DOC,
    render: Annotated[
        bool,
        typer.Option(
            "--render",
            help="Only rewrite the page from the stored results; train nothing (scores the real training images of "
            "a measured family's data if their row is missing).",
        ),
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Measure a variant: add key=value to each named family's recipe (repeatable). Its rows go to the "
            "page's 'What was tried' table, and count as the family's row once the recipe itself has these options.",
        ),
    ] = None,
    threads: Threads = 1,
    data_dir: DataDir = None,
) -> None:
    from genlab.bench.recipes import RECIPES, TRANSLATION_FAMILIES, check_recipe, run_recipe, score_real, variant_slug
    from genlab.bench.recipes_report import merge_entries
    from genlab.config import parse_sets
    from genlab.models.registry import get_family

    json_path = doc.with_suffix(".json")

    def real_rows(names: list[str], only_missing: bool) -> None:
        """Real training images under the same scores: how far below real data each bar sits."""
        have = {e["family"] for e in merge_entries(json_path, [])} if only_missing else set()
        for dataset in dict.fromkeys(get_family(f).dataset for f in names if f not in TRANSLATION_FAMILIES):
            if f"real {dataset}" not in have:
                real = score_real(dataset, n=n, reference_n=reference_n, seed=0, data_dir=data_dir)
                merge_entries(json_path, [real], doc=doc)

    extra = parse_sets(set_ or [])
    if render:
        if extra:
            raise ConfigError("--render trains nothing: leave out --set")
        if not json_path.is_file():
            raise ConfigError(f"--render needs {json_path}; run genlab bench recipes first")
        _setup(ctx, threads)
        real_rows([e["family"] for e in merge_entries(json_path, []) if e["family"] in RECIPES], only_missing=True)
        merge_entries(json_path, [], doc=doc)
        out.print(f"wrote {doc}")
        return

    names = _families(families) if families.strip() else list(RECIPES)
    unknown = [f for f in names if f not in RECIPES]
    if unknown:
        raise ConfigError(f"no recipe for {', '.join(unknown)}; recipes: {', '.join(RECIPES)}")
    seed_list = _seeds(seeds)
    chosen = {name: RECIPES[name].with_sets(extra) for name in names}
    for recipe in chosen.values():
        check_recipe(recipe)
    if budget_scale <= 0 or n < 6 or reference_n < 6:
        raise ConfigError("--budget-scale must be > 0, and -n and --reference-n >= 6 (recall needs k + 1 = 6)")
    _setup(ctx, threads)
    real_rows(names, only_missing=False)
    for name in names:
        for seed in seed_list:
            run_dir = runs / f"{name}{variant_slug(chosen[name].sets)}-seed{seed}"  # named by its options
            stage = chosen[name].first_stage
            for d in (run_dir, *([run_dir.with_name(f"{run_dir.name}-{stage.family}")] if stage else [])):
                if d.exists():
                    raise ConfigError(f"{d} exists; remove it or choose another --runs folder")
            entry = run_recipe(
                chosen[name],
                seed,
                run_dir,
                budget_scale=budget_scale,
                n=n,
                reference_n=reference_n,
                data_dir=data_dir,
            )
            merge_entries(json_path, [entry], doc=doc)
            s = entry["scores"]
            if "fid_copy" in s:  # a translation family against its copy-the-input baseline
                scored = f"FID {s['fid']:.1f} (copy {s['fid_copy']:.1f}), L1 {s['l1']:.3f} (copy {s['copy_l1']:.3f})"
            else:
                scored = (
                    f"FID {s['fid']:.1f}, classes {s['classes_covered']}/{s['num_classes']}, recall "
                    f"{s['recall']:.2f}, confident {s['confident_share']:.2f}"
                    + (f", cond. acc. {s['conditional_accuracy']:.2f}" if "conditional_accuracy" in s else "")
                )
            out.print(
                f"{name} seed {seed}: {scored} -> bar {'met' if entry['met'] else 'missed'} "
                f"({entry['train_wall_s'] / 60:.1f} min of training)"
            )
    out.print(f"wrote {doc}")
