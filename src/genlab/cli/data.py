"""``genlab data inspect`` and ``genlab data prepare``: look at your own images, then cache them for training."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from genlab.cli.app import app, out
from genlab.data import DataOptions, prepare
from genlab.data.cache import ENV_VAR
from genlab.data.inspect import contact_sheet, has_domain_folders, inspect_pairs_source, inspect_source
from genlab.errors import ConfigError

data_app = typer.Typer(no_args_is_help=True, help="Look at your own data and prepare it for `genlab train --data`.")
app.add_typer(data_app, name="data")

CacheDir = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help=f"Where prepared data is cached (default: ${ENV_VAR}, else ~/.cache/genlab); never beside the data.",
    ),
]
Source = Annotated[
    str,
    typer.Argument(
        help="A folder of images (class sub-folders = labels; train/ and test/ = splits), a .zip or .tar(.gz) of "
        "one, a folder of IDX files or an IDX images file, the CIFAR-10/100 binary version, or a .npz/.npy of uint8 "
        "images."
    ),
]
ImageSize = Annotated[
    int, typer.Option("--image-size", help="Square side to prepare at (0: the data's own, rounded to 28/32/64/128).")
]
Channels = Annotated[int, typer.Option("--channels", help="1 (grey) or 3 (RGB); 0: the data's own.")]
Crop = Annotated[str, typer.Option("--crop", help="center: the centre square; none: pad to a square.")]
Labels = Annotated[
    str, typer.Option("--labels", help="auto: class folders when every image sits in one; folders; none.")
]
TestFraction = Annotated[
    float, typer.Option("--test-fraction", help="Held out (seeded) when the data has no test split.")
]
Background = Annotated[str, typer.Option("--background", help="Colour for transparency and padding.")]
PairsOption = Annotated[
    str,
    typer.Option(
        "--pairs",
        help="Image pairs (pix2pix, cyclegan): none (plain images, default), paired (A/ and B/ folders with matching "
        "file names, else side-by-side A|B images), ab, side-by-side, unpaired (two domain folders).",
    ),
]


def use_cache_dir(cache_dir: Path | None) -> None:
    """``--cache-dir``: this process (and the ranks it starts) prepare data there."""
    if cache_dir is not None:
        os.environ[ENV_VAR] = str(cache_dir.expanduser().resolve())


def warn_no_license(source: str) -> None:
    print(
        f"genlab: warning: no --data-license for {source}; the model card will say the licence is unknown: check "
        "that you may train on and publish from this data",
        file=sys.stderr,
    )


@data_app.command(help="Describe a data source: counts, sizes, modes, classes, duplicates, corrupt files.")
def inspect(
    source: Source,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write a contact sheet PNG (8 images per class, prepared).")
    ] = None,
    image_size: ImageSize = 0,
    channels: Channels = 0,
    crop: Crop = "center",
    labels: Labels = "auto",
    test_fraction: TestFraction = 0.1,
    background: Background = "white",
    pairs: PairsOption = "none",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    options = _options(image_size, channels, crop, labels, test_fraction, background, False, pairs)
    if pairs != "none":
        if output is not None:
            raise ConfigError("-o draws a contact sheet of plain images; with --pairs inspect prints the pairing only")
        return _inspect_pairs(source, options, as_json)
    report = inspect_source(source, options)
    if output is not None:
        sheet, shown = contact_sheet(source, output, options, report)
    summary = report.to_dict(options)
    if as_json:
        print(json.dumps(summary | ({"contact_sheet": str(sheet)} if output is not None else {}), indent=1))
        return
    size, chans = report.target(options)
    out.print(
        f"[bold]{escape(report.source)}[/] ({report.kind}): {report.files} files, {report.images} images",
        soft_wrap=True,
    )
    rows = [
        ("splits", ", ".join(f"{k} {v}" for k, v in report.splits.items()) + f" ({report.split_kind})"),
        ("sizes", _top(summary["sizes"])),
        ("modes", _top(summary["modes"])),
        ("formats", _top(summary["formats"])),
        ("classes", _top(report.classes, 12) if report.classes else "none (unlabelled)"),
        ("duplicates", f"{len(report.duplicates)} groups" + _first([" = ".join(g) for g in report.duplicates])),
        ("problems", f"{len(report.problems)}" + _first([f"{k}: {v}" for k, v in report.problems.items()])),
        ("ignored", f"{report.ignored} non-image files"),
        ("prepared as", f"{size}x{size}, {chans} channel(s) (own side {report.own_side} px)"),
    ]
    table = Table(show_header=False)
    for name, value in rows:
        table.add_row(name, escape(value))
    out.print(table)
    for note in report.notes:
        print(f"genlab: warning: {note}", file=sys.stderr)
    if has_domain_folders(source):
        print(
            "genlab: note: this data has A/ and B/ domain folders: for pix2pix or cyclegan see the pairing with "
            "--pairs paired or --pairs unpaired",
            file=sys.stderr,
        )
    if output is not None:
        out.print(f"contact sheet ({shown} images): {escape(str(sheet))}", soft_wrap=True)


@data_app.command("prepare", help="Decode a data source once into the cache (what `genlab train --data` reads).")
def prepare_command(
    source: Source,
    image_size: ImageSize = 0,
    channels: Channels = 0,
    crop: Crop = "center",
    labels: Labels = "auto",
    test_fraction: TestFraction = 0.1,
    background: Background = "white",
    strict: Annotated[bool, typer.Option("--strict", help="A corrupt or unreadable image is an error.")] = False,
    pairs: PairsOption = "none",
    cache_dir: CacheDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    use_cache_dir(cache_dir)
    options = _options(image_size, channels, crop, labels, test_fraction, background, strict, pairs)
    prepared = prepare(source, options, progress=False if quiet else None)
    m = prepared.manifest
    classes = f"{len(m['classes'])} classes" if m["classes"] else "unlabelled"
    what = "images"
    if "layout" in m:
        classes, what = f"A|B rows {m['image_size']}x{m['width']}", f"pairs ({pairing_line(m['pairing'])})"
    out.print(
        f"{escape(m['source'])}: {m['images']['train']} train + {m['images']['test']} test {what} "
        f"({m['split']['kind']} split), {m['image_size']}x{m['image_size']}x{m['channels']}, {classes}",
        soft_wrap=True,
    )
    out.print(f"prepared in {escape(str(prepared.folder))}", soft_wrap=True)
    out.print(f"train on it: genlab train FAMILY --data {escape(source)}" + _flags(options), soft_wrap=True)


def _inspect_pairs(source: str, options: DataOptions, as_json: bool) -> None:
    """``genlab data inspect --pairs``: the layout chosen, files per domain and split, matched and unmatched."""
    report = inspect_pairs_source(source, options)
    if as_json:
        print(json.dumps(report, indent=1))
        return
    size, chans = report["prepared_as"]["image_size"], report["prepared_as"]["channels"]
    files = report["files"]
    rows = [
        ("layout", f"{report['layout']} (--pairs {options.pairs})"),
        ("pairing", pairing_line(report)),
        ("domain A", ", ".join(f"{k} {v}" for k, v in files["A"].items()) + f" ({report['split']})"),
        ("domain B", ", ".join(f"{k} {v}" for k, v in files["B"].items())),
        ("problems", f"{len(report['problems'])}" + _first([f"{k}: {v}" for k, v in report["problems"].items()])),
        ("prepared as", f"rows of A|B, each {size}x{size} with {chans} channel(s): {size}x{2 * size}"),
    ]
    out.print(f"[bold]{escape(report['source'])}[/]: image pairs", soft_wrap=True)
    table = Table(show_header=False)
    for name, value in rows:
        table.add_row(name, escape(value))
    out.print(table)
    for note in report["notes"]:
        print(f"genlab: warning: {note}", file=sys.stderr)


def pairing_line(pairing: dict) -> str:
    """One line on how the rows pair up: matched/unmatched names, side by side, or the unpaired rule."""
    if pairing["layout"] == "ab":
        matched = ", ".join(f"{k} {v}" for k, v in pairing["matched"].items())
        lost = pairing["unmatched"]
        return f"matched by name: {matched}; unmatched {lost['count']}" + _first(lost["first"])
    if pairing["layout"] == "side-by-side":
        return "each image is A (left half) | B (right half)"
    return f"unpaired: {pairing['rule']}"


def _options(image_size, channels, crop, labels, test_fraction, background, strict, pairs="none") -> DataOptions:
    options = DataOptions(image_size, channels, crop, labels, test_fraction, background, strict, pairs)
    options.check()
    return options


def _flags(options: DataOptions) -> str:
    """The options that differ from the defaults, as train flags (the same cache entry is then used)."""
    default = DataOptions()
    names = {"image_size": "--image-size", "channels": "--channels", "crop": "--crop", "labels": "--labels"}
    names |= {"test_fraction": "--test-fraction", "background": "--background", "pairs": "--pairs"}
    flags = [
        f" {flag} {getattr(options, k)}" for k, flag in names.items() if getattr(options, k) != getattr(default, k)
    ]
    return "".join(flags) + (" --strict" if options.strict else "")


def _top(counts: dict, k: int = 5) -> str:
    items = list(counts.items())
    text = ", ".join(f"{name}: {n}" for name, n in items[:k])
    return text + (f" (+{len(items) - k} more)" if len(items) > k else "")


def _first(items: list, k: int = 3) -> str:
    return f" (first: {'; '.join(str(i) for i in items[:k])})" if items else ""
