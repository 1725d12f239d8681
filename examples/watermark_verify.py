"""Publish an image responsibly: visible mark, keyed invisible mark, signed provenance; then check all three.

    python examples/watermark_verify.py                 # keys and images in ./watermark-example
    python examples/watermark_verify.py --tiny          # the same (it is already fast; the flag is for the tests)

Then a copy with one pixel changed: the signature fails, the invisible mark is still found.
The command-line equivalents are `genlab keys new`, `genlab sample --sign-key --watermark-key`,
`genlab verify` and `genlab watermark detect`.
"""

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from genlab.data import load_dataset, load_image, make_grid, save_png
from genlab.errors import GenlabError
from genlab.marks.invisible import InvisibleMark, detect, pack_payload
from genlab.marks.keys import load_public_key, load_watermark_key, new_keys
from genlab.marks.signing import verify_png

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument(
    "--tiny",
    action="store_true",
    default=os.environ.get("GENLAB_TINY") == "1",
    help="accepted for symmetry with the other examples",
)
parser.add_argument("--out", type=Path, default=Path("watermark-example"), help="folder for keys and images")
args = parser.parse_args()

keys = new_keys(args.out / "keys")  # refuses to overwrite existing keys
print(f"signing key {keys.fingerprint}")
test, _, _ = load_dataset("mnist", "test")
picture = make_grid(test[:16])  # stands in for a grid of generated samples, uint8 (H, W)
payload = pack_payload(model_id=0x0001, run_id=0x2A2A)  # 32 bits carried by the invisible mark
marked = save_png(
    args.out / "published.png",
    picture,
    provenance={"generator": "example", "note": "made by examples/watermark_verify.py"},
    invisible=InvisibleMark(load_watermark_key(keys.watermark), payload),
    sign_key=keys.private,
)

verified = verify_png(marked, load_public_key(keys.public))
print(f"{marked}: signature valid, by the trusted key: {verified.trusted}; fields: {sorted(verified.fields)}")
found = detect(load_image(marked, grayscale=True), load_watermark_key(keys.watermark))
print(
    f"invisible mark: detected {found.detected} (z = {found.z:.1f}), payload 0x{found.payload:08x} (embedded "
    f"0x{payload:08x})"
)

pixels = np.asarray(Image.open(marked)).copy()
pixels[5, 5] ^= 0xFF  # tamper with one pixel, keep the metadata
tampered = args.out / "tampered.png"
info = PngImagePlugin.PngInfo()
with Image.open(marked) as original:
    for keyword, text in original.text.items():
        info.add_itxt(keyword, text)
Image.fromarray(pixels).save(tampered, pnginfo=info)  # a forger's copy, deliberately not through save_png
try:
    verify_png(tampered, load_public_key(keys.public))
    print(f"{tampered}: signature still valid (unexpected)")
except GenlabError as e:
    print(f"{tampered}: signature rejected as expected: {e}")
found = detect(load_image(tampered, grayscale=True), load_watermark_key(keys.watermark))
print(f"{tampered}: invisible mark still detected: {found.detected} (z = {found.z:.1f})")
