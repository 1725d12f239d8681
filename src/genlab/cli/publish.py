"""``genlab watermark embed|detect``, ``genlab keys new``, ``genlab verify`` and ``genlab card``.

``verify`` and ``watermark detect`` answer a yes/no question: exit 0 for yes, 1 for no
(with one line on stderr saying why); bad input still exits 2 like every command. The
"no" is a ``SystemExit(1)``: ``genlab.cli.main`` runs typer with ``standalone_mode=False``,
which turns ``typer.Exit(1)`` into a return value that ``main`` does not pass on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from PIL import Image, UnidentifiedImageError

from genlab.cli.app import SEED_RANGE, DataDir, app, out
from genlab.data.images import image_bytes, open_image, save_png
from genlab.errors import ConfigError, DataError
from genlab.marks.invisible import InvisibleMark, detect, unpack_payload
from genlab.marks.keys import load_public_key, load_watermark_key, new_keys
from genlab.marks.provenance import SIGNATURE_KEY, ProvenanceError, fields_of, read_text_chunks
from genlab.runs.marks import payload_for, short_id

watermark_app = typer.Typer(
    no_args_is_help=True, help="Embed or detect genlab's keyed invisible watermark (scheme genlab-dct-ss/1)."
)
keys_app = typer.Typer(no_args_is_help=True, help="Make keys for signing provenance and for the invisible watermark.")
app.add_typer(watermark_app, name="watermark")
app.add_typer(keys_app, name="keys")

KeyFile = Annotated[
    Path | None,
    typer.Option("--key", help="Watermark key file (watermark.key from `genlab keys new`); not used by dwtDctSvd."),
]
Method = Annotated[
    str,
    typer.Option(
        help="genlab (keyed, any size >= 16x16) or dwtDctSvd (optional package invisible-watermark, no key, >= "
        "256x256 RGB)."
    ),
]
Payload = Annotated[
    str | None,
    typer.Option(help="32-bit payload as 8 hex digits; default: from the image's generator and run id metadata."),
]
METHODS = ("genlab", "dwtDctSvd")


@watermark_app.command(
    help="Embed the invisible mark in IMAGE and write OUTPUT (PNG). Pixels change by a few levels; metadata is "
    "carried over."
)
def embed(
    image: Annotated[Path, typer.Argument(help="Input image (PNG, or anything Pillow reads).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output PNG.")],
    key: KeyFile = None,
    payload: Payload = None,
    method: Method = "genlab",
    sign_key: Annotated[
        Path | None, typer.Option("--sign-key", help="Sign the output with this Ed25519 private key (PEM).")
    ] = None,
) -> None:
    if output.suffix.lower() != ".png":
        raise ConfigError(f"-o must name a .png file, got {output}")
    _check_method(method, key)
    pixels, chunks = _read_image(image)
    fields = fields_of(chunks)
    value = _payload(payload, fields)
    if method == "dwtDctSvd":
        from genlab.marks.iwm import iwm_embed

        if value is None:
            raise ConfigError("dwtDctSvd carries a payload and nothing else: pass --payload")
        rgb = pixels if pixels.ndim == 3 else np.repeat(pixels[:, :, None], 3, axis=2)  # (H, W) -> (H, W, 3)
        marked = iwm_embed(rgb, value)
        save_png(
            output,
            marked,
            watermark=None,
            provenance={**fields, "invisible_watermark": "invisible-watermark dwtDctSvd"},
            sign_key=sign_key,
        )
    else:
        save_png(
            output,
            pixels,
            watermark=None,
            provenance=fields,
            invisible=InvisibleMark(load_watermark_key(key), value),
            sign_key=sign_key,
        )
    what = f"payload 0x{value:08x}" if value is not None else "no payload (presence only: pass --payload)"
    say(f"wrote {output} with the invisible mark ({what})" + (", signed" if sign_key else ""))


@watermark_app.command("detect", help="Test IMAGE for the invisible mark of KEY; exit 0 if detected, 1 if not.")
def detect_command(
    image: Annotated[Path, typer.Argument(help="Image to test (PNG, JPEG, ...).")],
    key: KeyFile = None,
    fpr: Annotated[float, typer.Option(help="False-positive rate the threshold is set for.")] = 0.01,
    search_crop: Annotated[
        bool,
        typer.Option(
            "--search-crop",
            help="Also try undoing a centred crop of up to 20 % (threshold corrected for the extra tries).",
        ),
    ] = False,
    method: Method = "genlab",
    payload: Annotated[
        str | None,
        typer.Option(
            help="dwtDctSvd only: the payload to look for (8 hex digits); default: from the image's metadata."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    _check_method(method, key)
    pixels, chunks = _read_image(image)
    if method == "dwtDctSvd":
        _detect_dwt_dct_svd(image, pixels, _payload(payload, fields_of(chunks)), fpr, as_json)
        return
    found = detect(pixels, load_watermark_key(key), fpr=fpr, search_crop=search_crop)
    result = {
        "image": str(image),
        "detected": found.detected,
        "z": round(found.z, 3),
        "p_value": found.p_value,
        "threshold": round(found.threshold, 3),
        "fpr": fpr,
        "payload": None if found.payload is None else f"0x{found.payload:08x}",
        "corrected_bits": found.corrected_bits,
        "payload_robust": found.payload_robust,
    }
    if found.payload is not None:
        model_id, run16 = unpack_payload(found.payload)
        result["model"] = _family_of(model_id)
        run_id = fields_of(chunks).get("run_id")
        result["matches_metadata_run_id"] = None if run_id is None else short_id(run_id) == run16
    if as_json:
        print(json.dumps(result, indent=1))
    else:
        verdict = "DETECTED" if found.detected else "not detected"
        say(
            f"{image}: watermark {verdict} (z = {found.z:.2f}, threshold {found.threshold:.2f} for false-positive "
            f"rate {fpr:g}, p = {found.p_value:.2g})"
        )
        if found.payload is not None:
            extra = (
                ""
                if result["matches_metadata_run_id"] is None
                else ("; matches" if result["matches_metadata_run_id"] else "; does NOT match")
                + " the run id in its metadata"
            )
            say(
                f"payload {result['payload']}: model id 0x{model_id:04x} "
                f"({result['model'] or 'no registered family'}), run id 0x{run16:04x}; {found.corrected_bits} bit "
                f"error(s) corrected{extra}"
            )
        else:
            say(
                "payload: not decoded"
                + (
                    ""
                    if found.payload_robust
                    else f" (at {pixels.shape[1]}x{pixels.shape[0]} the payload only survives lossless copies)"
                )
            )
    if not found.detected:
        raise SystemExit(1)


@keys_app.command(
    "new", help="Write signing-key.pem (private, 0600), signing-key.pub.pem and watermark.key (secret, 0600) to --out."
)
def keys_new(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the key files (created if missing).")],
) -> None:
    files = new_keys(out_dir)
    say(
        f"signing key {files.fingerprint}\n  private: {files.private} (keep it secret)\n  public:  {files.public} "
        f"(give it to whoever verifies)\n  watermark key: {files.watermark} (secret; needed to embed and to detect)"
    )


@app.command(
    help="Check the Ed25519 signature over IMAGE's pixels and provenance metadata; exit 0 if valid, 1 if not."
)
def verify(
    image: Annotated[Path, typer.Argument(help="A PNG written by genlab with a signing key.")],
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="Trusted public key (PEM); without it the key named in the file is used, which proves integrity but "
            "not who signed.",
        ),
    ] = None,
) -> None:
    from genlab.marks.signing import verify_png

    trusted = load_public_key(key) if key is not None else None
    try:
        result = verify_png(image, trusted)
    except ProvenanceError as e:
        print(f"genlab: verify FAILED: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    who = "the trusted key" if result.trusted else "the key named in the file (pass --key to check who that is)"
    say(f"{image}: valid signature by {result.fingerprint} ({who})")
    for name, value in sorted(result.fields.items()):
        say(f"  {name}: {value}")


@app.command(
    help="Write RUN_DIR/card.md, the model card: uses, misuse, data and licence, metrics, limitations, watermark "
    "settings."
)
def card(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by `genlab train`.")],
    evaluate: Annotated[
        bool,
        typer.Option(
            "--evaluate", help="Sample the model and add the evaluation suite's per-class results (MNIST runs)."
        ),
    ] = False,
    n: Annotated[int, typer.Option("-n", help="Samples for --evaluate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed for --evaluate.", **SEED_RANGE)] = 0,
    data_dir: DataDir = None,
) -> None:
    from genlab.publish.card import evaluate_for_card, write_card

    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    path = write_card(run_dir, evaluate_for_card(run_dir, n, seed, data_dir) if evaluate else None)
    say(f"wrote {path}")


def say(text: str) -> None:
    """One line on stdout, never wrapped or styled (paths and fields are printed as they are)."""
    out.print(text, soft_wrap=True, markup=False, highlight=False)


def _read_image(path: Path) -> tuple[np.ndarray, dict[str, str]]:
    """Pixels as uint8 (H, W) for grey images, else (H, W, 3); PNG text chunks (empty for other formats)."""
    data = image_bytes(path)
    try:
        with open_image(path, data) as image:
            image.load()
            pixels = np.asarray(
                image.convert("L" if image.mode in ("1", "L", "LA", "I", "I;16") else "RGB"), np.uint8
            ).copy()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{path} could not be read as an image ({e})") from None
    chunks = read_text_chunks(data, str(path)) if data.startswith(b"\x89PNG") else {}
    chunks.pop(SIGNATURE_KEY, None)  # new pixels, so the old signature no longer applies
    return pixels, chunks


def _check_method(method: str, key: Path | None) -> None:
    if method not in METHODS:
        raise ConfigError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "genlab" and key is None:
        raise ConfigError("the genlab method needs --key (watermark.key from genlab keys new)")


def _detect_dwt_dct_svd(image: Path, pixels: np.ndarray, expected: int | None, fpr: float, as_json: bool) -> None:
    """dwtDctSvd has no presence statistic: count how many decoded bits match the expected payload."""
    from genlab.marks.invisible import payload_bits
    from genlab.marks.iwm import iwm_decode, matching_bits_threshold

    if expected is None:
        raise ConfigError("dwtDctSvd detection compares with an expected payload: pass --payload")
    if not 0 < fpr < 1:
        raise ConfigError(f"--fpr must lie in (0, 1), got {fpr}")
    bits = iwm_decode(pixels if pixels.ndim == 3 else np.repeat(pixels[:, :, None], 3, axis=2))
    matches, need = int((bits == payload_bits(expected)).sum()), matching_bits_threshold(fpr)
    if as_json:
        print(
            json.dumps(
                {
                    "image": str(image),
                    "method": "dwtDctSvd",
                    "detected": matches >= need,
                    "matching_bits": matches,
                    "needed": need,
                    "payload": f"0x{expected:08x}",
                },
                indent=1,
            )
        )
    else:
        say(
            f"{image}: dwtDctSvd payload 0x{expected:08x} {'DETECTED' if matches >= need else 'not detected'} "
            f"({matches} of 32 bits match; {need} needed for false-positive rate {fpr:g})"
        )
    if matches < need:
        raise SystemExit(1)


def _payload(text: str | None, fields: dict[str, str]) -> int | None:
    if text is not None:
        try:
            value = int(text.removeprefix("0x"), 16)
        except ValueError:
            raise ConfigError(f"--payload must be 8 hex digits, got {text!r}") from None
        if not 0 <= value < 2**32:
            raise ConfigError(f"--payload must fit in 32 bits, got {text!r}")
        return value
    if "generator" in fields and "run_id" in fields:
        return payload_for(fields["generator"], fields["run_id"])
    return None


def _family_of(model_id: int) -> str | None:
    """The registered family whose 16-bit id is ``model_id``, if any."""
    from genlab.models.registry import family_names

    return next((name for name in family_names() if short_id(name) == model_id), None)
