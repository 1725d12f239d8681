"""Watermark results: robustness and cost of genlab's invisible mark, the visible mark's legibility.

Writes docs/results/watermark.md and the example grids docs/results/watermark-grid-28.png
and watermark-grid-64.png. Everything is seeded; the key is derived from a public string,
so anyone can re-run the numbers.

    python benchmarks/watermark.py
    python benchmarks/watermark.py --iwm-python /tmp/iwm/bin/python   # + the invisible-watermark comparison

The comparison needs a Python with ``invisible-watermark==0.2.0`` (dwtDctSvd only needs
numpy, opencv and PyWavelets; see docs/results/watermark.md for the install).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlab.data import load_dataset, make_grid, save_grid
from genlab.eval.evaluate import Evaluator, load_reference
from genlab.marks import invisible as inv
from genlab.marks.attacks import standard_attacks
from genlab.marks.iwm import matching_bits_threshold
from genlab.marks.visible import DEFAULT_TEXT, VisibleWatermark, band_height, wrap

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
KEY = hashlib.sha256(b"genlab watermark benchmark key (public on purpose)").digest()
FPR = 0.01
GOOD = 0.9  # the summary lists the attacks a set survives at least this often
COMMAND = "python benchmarks/watermark.py"


def image_sets(n: int, n_large: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (images to mark, different unmarked images as negatives), uint8 (N, H, W[, 3]).

    A name ending in "presence only" is marked without a payload.
    """
    mnist = load_dataset("mnist", "test")[0][:, 0]
    shapes = load_dataset("shapes64", "test")[0].transpose(0, 2, 3, 1)
    grids = [
        make_grid(mnist[np.random.default_rng(i).choice(len(mnist), 64, replace=False)]) for i in range(2 * n_large)
    ]

    def up(a):
        return np.stack([np.asarray(Image.fromarray(x).resize((256, 256), Image.Resampling.BICUBIC)) for x in a])

    return {
        "28x28 grey (MNIST test)": (mnist[:n], mnist[n : 2 * n]),
        "28x28 grey (MNIST test), presence only": (mnist[:n], mnist[n : 2 * n]),
        "64x64 RGB (shapes64 test)": (shapes[:n], shapes[n : 2 * n]),
        "242x242 grey (8x8 grid of MNIST)": (np.stack(grids[:n_large]), np.stack(grids[n_large:])),
        "256x256 RGB (shapes64 upsampled x4)": (
            up(shapes[2 * n : 2 * n + n_large]),
            up(shapes[2 * n + n_large : 2 * n + 2 * n_large]),
        ),
    }


def robustness(
    images: np.ndarray, negatives: np.ndarray, payloads: np.ndarray | None
) -> tuple[list[dict], np.ndarray]:
    """One result per attack for one set (``payloads`` None: presence only), and the marked images."""
    marked = np.stack(
        [
            inv.embed(x, KEY, None if payloads is None else int(p))
            for x, p in zip(images, payloads if payloads is not None else images)
        ]
    )
    truth = None if payloads is None else np.stack([inv.payload_bits(int(p)) for p in payloads])
    results = []
    for name, attack in standard_attacks(seed=1).items():
        for search in (False, True) if name.startswith("crop") else (False,):
            pos = [inv.detect(attack(x), KEY, fpr=FPR, search_crop=search) for x in marked]
            neg = [inv.detect(attack(x), KEY, fpr=FPR, search_crop=search) for x in negatives]
            results.append(
                _result(
                    name + (" (detector searches crops)" if search else ""),
                    None if truth is None else np.stack([d.message_bits for d in pos]) == truth,
                    None if payloads is None else np.array([d.payload == p for d, p in zip(pos, payloads)]),
                    np.array([d.detected for d in pos]),
                    np.array([d.detected for d in neg]),
                    np.array([d.z for d in pos]),
                    np.array([d.z for d in neg]),
                    "z",
                )
            )
    return results, marked


def _result(attack, bit_hits, exact, detected_pos, detected_neg, score_pos, score_neg, score) -> dict:
    empirical = np.quantile(score_neg, 1 - FPR, method="higher")
    return {
        "attack": attack,
        "bit accuracy": "–" if bit_hits is None else f"{bit_hits.mean():.3f}",
        "payload exact": "–" if exact is None else f"{exact.mean():.2f}",
        "TPR": f"{detected_pos.mean():.2f}",
        "FPR measured": f"{detected_neg.mean():.3f}",
        "TPR at measured FPR": f"{np.mean(score_pos > empirical):.2f} ({score} > {empirical:.2f})",
    }


def fid_change(n: int) -> list[str]:
    """Table rows: FID of n MNIST train images against the test set, unmarked and marked both ways."""
    train = load_dataset("mnist", "train")[0][:n, 0]
    payloads = np.random.default_rng(7).integers(0, 2**32, n)
    evaluator = Evaluator(load_reference("mnist-test"))
    clean = evaluator(train[:, None])["fid"]
    rows = [f"| unmarked | {clean:.2f} | – | – |"]
    for label, marks in (
        ("marked, 32-bit payload (a random one per image)", payloads),
        ("marked, presence only", [None] * n),
    ):
        marked = np.stack([inv.embed(x, KEY, None if p is None else int(p)) for x, p in zip(train, marks)])
        fid = evaluator(marked[:, None])["fid"]
        rows.append(f"| {label} | {fid:.2f} | {fid - clean:+.2f} | {set_psnr(train, marked):.1f} |")
    return rows


def set_psnr(originals: np.ndarray, marked: np.ndarray) -> float:
    """PSNR of a whole set: from the mean squared error over all its pixels."""
    mse = np.mean((originals.astype(np.float64) - marked.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def iwm_rows(
    python: str, images: np.ndarray, negatives: np.ndarray, payloads: np.ndarray
) -> tuple[list[dict], np.ndarray]:
    """The same attacks on invisible-watermark's dwtDctSvd, run in the interpreter ``python``."""
    src = str(Path(__file__).resolve().parent.parent / "src")
    script = (
        "import sys, numpy as np; sys.path.insert(0, sys.argv[1]); from genlab.marks.iwm import iwm_embed, "
        "iwm_decode\n"
        "d = np.load(sys.argv[3])\n"
        "out = [iwm_embed(x, int(p)) for x, p in zip(d['images'], d['payloads'])] if sys.argv[2] == 'embed' else "
        "[iwm_decode(x) for x in d['images']]\n"
        "np.savez(sys.argv[4], out=np.stack(out))\n"
    )
    with tempfile.TemporaryDirectory() as tmp:

        def call(mode: str, batch: np.ndarray) -> np.ndarray:
            np.savez(f"{tmp}/in.npz", images=batch, payloads=payloads[: len(batch)])
            subprocess.run([python, "-c", script, src, mode, f"{tmp}/in.npz", f"{tmp}/out.npz"], check=True)
            return np.load(f"{tmp}/out.npz")["out"]

        marked = call("embed", images)
        truth = np.stack([inv.payload_bits(int(p)) for p in payloads])
        need = matching_bits_threshold(FPR)
        results = []
        for name, attack in standard_attacks(seed=1).items():
            pos = call("decode", np.stack([attack(x) for x in marked])) == truth
            neg = call("decode", np.stack([attack(x) for x in negatives])) == truth[: len(negatives)]
            matches_pos, matches_neg = pos.sum(1), neg.sum(1)
            results.append(
                _result(
                    name,
                    pos,
                    matches_pos == 32,
                    matches_pos >= need,
                    matches_neg >= need,
                    matches_pos,
                    matches_neg,
                    "matching bits",
                )
            )
    return results, marked


def explanation() -> list[str]:
    from genlab.marks.layout import COEFFICIENTS_PER_BIT, ROBUST_BAND, SOFT_SCALE
    from genlab.marks.visible import LINE_HEIGHT, _char_width

    code, mark = inv.CODE, VisibleWatermark()
    return [
        "## What is measured",
        "",
        f"- **genlab's invisible mark** (`{inv.SCHEME}`, `genlab watermark embed|detect`): a keyed spread-spectrum "
        "mark in the signs of the",
        f"  full-frame luma DCT. A pilot (half of the coefficients with max(u/H, v/W) < {ROBUST_BAND}) gives the "
        "presence z-score; the",
        f"  {inv.PAYLOAD_BITS}-bit payload + CRC-4 is BCH({code.n}, {code.k}) coded (corrects {code.t} bit errors), "
        "each coded bit spread over at least",
        f"  {COEFFICIENTS_PER_BIT} coefficients. Where the image is too small for that (28x28), the pilot takes the "
        "whole robust band and the payload",
        "  rides on the high frequencies: it survives lossless copies (PNG) but not blur, resizing or JPEG. Embedding "
        "is informed: only",
        f"  coefficients whose sign disagrees, or is weaker than the margin ({SOFT_SCALE:g}, larger at high "
        "frequencies), are changed.",
        "  Default strength (`MarkStrength()`) everywhere below.",
        "- **Detection**: z is about N(0, 1) without the mark, so genlab's threshold for a false-positive rate of "
        f"{FPR:.0%} is the normal",
        "  quantile (Bonferroni-corrected when the detector also searches crops). *FPR measured* applies it to "
        "unmarked images from the",
        "  same data set after the same attack; *TPR at measured 1 % FPR* instead sets the threshold at the 99th "
        "percentile of those.",
        "- **Bit accuracy**: share of the 32 payload bits recovered (after BCH decoding when it succeeds, else the "
        "raw bits);",
        "  **payload exact**: share of images whose whole payload decodes and passes the CRC.",
        "- **Attacks** (`genlab.marks.attacks`, Pillow): JPEG at quality 90/70/50; resize to half size and back "
        "(bicubic);",
        "  Gaussian noise with sigma 0.02/0.05 of the pixel range; Gaussian blur with sigma 1 px; crop 10 % = cut 5 % "
        "of the",
        "  height and width on each side and resize back to the original size.",
        "- **Quality cost**: PSNR of the marked image against the original, and the FID change on MNIST with genlab's "
        "evaluation suite.",
        "- Each image gets its own random payload; the key is derived from a public string so the numbers can be "
        "reproduced.",
        "- **invisible-watermark 0.2.0** (`--method dwtDctSvd`, images >= 256x256 only): its package metadata pulls "
        "in torch (a second,",
        "  CUDA build) for its rivaGan method, and its `__init__` imports torch. genlab loads only its "
        "`dwtDctSvd.py`, which needs numpy,",
        "  opencv and PyWavelets; the comparison ran in a throwaway venv made with",
        "  `python3.11 -m venv /tmp/iwm && /tmp/iwm/bin/pip install --no-deps invisible-watermark==0.2.0 && "
        "/tmp/iwm/bin/pip install opencv-python-headless PyWavelets numpy pillow`.",
        "- **Visible mark** (`genlab.marks.visible`, on by default in every PNG genlab writes): a white band under "
        "the picture with the",
        f"  text in Pillow's bitmap font (black, {_char_width()} px a character, {LINE_HEIGHT} px a line, wrapped to "
        f'the width), and the token "{mark.tile_text}" tiled faintly',
        f"  ({mark.tile_opacity:.0%} of the way to the opposite brightness) in a brick pattern over the whole "
        "picture, so that every 28x28 cell of a grid",
        "  keeps part of a mark when cut out (tests/publish/test_visible.py checks each cell). Characters outside "
        "Latin-1 are drawn as",
        '  look-alikes ("—" as "-"); the PNG metadata keeps the exact text.',
        "",
    ]


def table(results: list[dict], detector: str) -> list[str]:
    head = [
        "attack",
        "bit accuracy",
        "payload exact",
        f"TPR ({detector})",
        "FPR measured",
        f"TPR at measured {FPR:.0%} FPR",
    ]
    keys = ["attack", "bit accuracy", "payload exact", "TPR", "FPR measured", "TPR at measured FPR"]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
        "| " + " | ".join(r[k] for k in keys) + " |" for r in results
    ]


def summary(all_results: dict[str, list[dict]]) -> list[str]:
    """One line per set: detection and exact payload under the attacks that matter most."""
    attacks = ["none", "jpeg 70", "resize x0.5", "noise 0.05", "crop 10 % (detector searches crops)"]
    head = (
        ["image set"]
        + [f"{a}: TPR / payload exact" for a in attacks[:-1]]
        + ["crop 10 % (genlab searches crops): TPR / payload exact"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, results in all_results.items():
        by_attack = {r["attack"]: r for r in results}
        by_attack.setdefault(attacks[-1], by_attack["crop 10 %"])  # dwtDctSvd has no crop search
        cells = [f"{by_attack[a]['TPR']} / {by_attack[a]['payload exact']}" for a in attacks]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    lines.append("")
    for name, results in all_results.items():
        detected = [r["attack"] for r in results if float(r["TPR"]) >= GOOD]
        exact = [r["attack"] for r in results if r["payload exact"] != "–" and float(r["payload exact"]) >= GOOD]
        carried = (
            f"the payload decodes exactly in at least {GOOD:.0%} of images under: {', '.join(exact) or 'nothing'}"
            if results[0]["payload exact"] != "–"
            else "no payload"
        )
        lines.append(
            f"- {name}: detected in at least {GOOD:.0%} of images under: {', '.join(detected) or 'nothing'}; "
            f"{carried}."
        )
    return lines


def examples() -> list[str]:
    """Write the two example grids; return the doc lines describing legibility."""
    mnist = load_dataset("mnist", "test")[0][:64]
    shapes = load_dataset("shapes64", "test")[0][:16]
    save_grid(RESULTS / "watermark-grid-28.png", mnist, invisible=inv.InvisibleMark(KEY, 0x28282828))
    save_grid(
        RESULTS / "watermark-grid-64.png",
        shapes,
        invisible=inv.InvisibleMark(KEY, 0x64646464),
        watermark=VisibleWatermark(text="AI GENERATED — NOT LEGAL TENDER"),
    )
    mark = VisibleWatermark()
    lines = []
    for label, width in (
        ("one 28x28 image", 28),
        ("a 4x4 grid of 28x28", make_grid(mnist[:16]).shape[1]),
        ("an 8x8 grid of 28x28", make_grid(mnist).shape[1]),
        ("one 64x64 image", 64),
        ("a 4x4 grid of 64x64", make_grid(shapes).shape[1]),
    ):
        wrapped = wrap(DEFAULT_TEXT, width - 4)
        lines.append(f"| {label} | {width} | {len(wrapped)} | {' / '.join(wrapped)} | {band_height(width, mark)} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="images per small set (and as many negatives)")
    parser.add_argument("--n-large", type=int, default=60, help="images per large set")
    parser.add_argument("--fid-n", type=int, default=10_000, help="MNIST train images for the FID change")
    parser.add_argument("--iwm-python", help="a Python with invisible-watermark==0.2.0 installed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    out = [
        "# Watermarks: robustness and cost",
        "",
        f"Made by `{COMMAND}{' --iwm-python ' + args.iwm_python if args.iwm_python else ''}` "
        f"on {os.cpu_count()} shared CPU cores, Python {platform.python_version()}, numpy {np.__version__}.",
        "",
    ]
    out += explanation()
    quality = [
        "| image set | PSNR of the set (dB) | median PSNR (dB) | 5th percentile PSNR (dB) | payload carried on |",
        "|---|---|---|---|---|",
    ]
    sections = []
    all_results: dict[str, list[dict]] = {}
    for name, (images, negatives) in image_sets(args.n, args.n_large).items():
        payloads = np.random.default_rng(len(name)).integers(0, 2**32, len(images))
        t = time.perf_counter()
        rows, marked = robustness(images, negatives, None if name.endswith("presence only") else payloads)
        psnrs = np.array([inv.psnr(a, b) for a, b in zip(images, marked)])
        carrier = (
            "none"
            if name.endswith("presence only")
            else "robust band"
            if inv.layout(KEY, *images.shape[1:3]).payload_robust
            else "high frequencies (fragile)"
        )
        quality.append(
            f"| {name} | {set_psnr(images, marked):.1f} | {np.median(psnrs):.1f} | {np.percentile(psnrs, 5):.1f} | "
            f"{carrier} |"
        )
        all_results[name] = rows
        sections += [
            f"### {name}: {len(images)} marked images, {len(negatives)} other unmarked ones as negatives "
            f"({time.perf_counter() - t:.0f} s)",
            "",
            *table(rows, f"genlab threshold, nominal FPR {FPR:.0%}"),
            "",
        ]
        if args.iwm_python and name.startswith("256"):
            iwm, iwm_marked = iwm_rows(args.iwm_python, images, negatives, payloads)
            iwm_psnrs = np.array([inv.psnr(a, b) for a, b in zip(images, iwm_marked)])
            quality.append(
                f"| {name}, invisible-watermark dwtDctSvd | {set_psnr(images, iwm_marked):.1f} | "
                f"{np.median(iwm_psnrs):.1f} | {np.percentile(iwm_psnrs, 5):.1f} | U (chroma) channel, DWT-DCT-SVD |"
            )
            all_results[f"{name}, invisible-watermark dwtDctSvd"] = iwm
            sections += [
                f"### {name}: invisible-watermark 0.2.0, method dwtDctSvd (package defaults), same images and attacks",
                "",
                f"No key and no presence statistic: detected = at least {matching_bits_threshold(FPR)} of 32 decoded "
                f"bits match the payload (chance: at most {FPR:.0%}).",
                "",
                *table(iwm, f">= {matching_bits_threshold(FPR)} of 32 bits match"),
                "",
            ]
    out += [
        "## Image quality cost",
        "",
        *quality,
        "",
        "FID with genlab's evaluation suite (digit-classifier features, against the 10 000 MNIST test images) of the "
        f"first {args.fid_n} MNIST train images, each image marked on its own (28x28):",
        "",
        "| images | FID | change | PSNR of the set (dB) |",
        "|---|---|---|---|",
        *fid_change(args.fid_n),
        "",
        "## Robustness",
        "",
        "Summary (details per set below):",
        "",
        *summary(all_results),
        "",
        *sections,
        "## Visible mark: what is legible at what size",
        "",
        "| picture | width (px) | band lines | band text | band height (px) |",
        "|---|---|---|---|---|",
        *examples(),
        "",
        "![28x28 grid with both marks](watermark-grid-28.png)",
        "",
        "![64x64 grid with both marks and a custom text](watermark-grid-64.png)",
        "",
        f"Total wall time {time.perf_counter() - start:.0f} s.",
        "",
    ]
    (RESULTS / "watermark.md").write_text("\n".join(out), encoding="utf-8")
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
