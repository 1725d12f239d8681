"""captions32: shapes64 at 32x32 with natural-language captions built from its known factors.

Four factors are *described*: the motif (6 values), its colour (the 8 hues), the background
(4 paper tints) and the size, binned small / medium / large (radii 12-14, 16-18, 20-22 px at
64x64). Position and count are left out of every caption, as real captions leave things out.
An image's label is the code of its described attributes (:func:`attributes_to_code`,
6 x 8 x 4 x 3 = 576 codes); a caption is drawn from :data:`TEMPLATES` per use, so every image
has several captions ("a red star motif on a cream background", "small teal rosettes").

Every content word names exactly one attribute value (the backgrounds are called cream,
sky, mint and rose so that no colour word is also a background word), which makes the
captions parseable back into attributes (:func:`parse_prompt`) for the attribute GAN and
for checks. Compositional generalisation: the motif x colour pairs of
:data:`HELD_OUT_PAIRS` never appear in the train split (the test split keeps them).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import torch

from genlab.data.shapes64 import MOTIFS, load_shapes64, render_shapes64, sample_shapes64_factors, shapes64_factors
from genlab.errors import DataError

IMAGE_SIZE = 32
ATTRIBUTES = ("motif", "colour", "background", "size")
COLOURS = ("red", "orange", "lime", "green", "teal", "blue", "purple", "magenta")  # hue 0, 45, ..., 315 degrees
BACKGROUND_WORDS = ("cream", "sky", "mint", "rose")  # shapes64 backgrounds cream, blue, green, rose
SIZE_WORDS = ("small", "medium", "large")  # shapes64 size index // 2
PLURALS = {m: m + "s" for m in MOTIFS} | {"lattice": "lattices"}
ATTRIBUTE_SIZES = (len(MOTIFS), len(COLOURS), len(BACKGROUND_WORDS), len(SIZE_WORDS))
NUM_CODES = int(np.prod(ATTRIBUTE_SIZES))  # 576
# One (motif, colour) pair per motif, each colour at most once: colour = 3 * motif + 1 mod 8.
HELD_OUT_PAIRS = tuple((m, (3 * m + 1) % len(COLOURS)) for m in range(len(MOTIFS)))
PAD, START = "<pad>", "<start>"  # token 0 pads; token 1 starts every caption, so "" is one token

# {motif} / {motifs}: singular / plural noun. A template may leave attributes out.
TEMPLATES = (
    "a {size} {colour} {motif} motif on a {background} background",  # the canonical caption
    "a {colour} {motif} motif on a {background} background",
    "a {colour} {motif} on {background} paper",
    "{size} {colour} {motifs}",
    "a {size} {colour} {motif}",
    "{colour} {motifs} on a {background} background",
    "a {motif} drawn in {colour} on {background} paper",
    "a {size} {motif} drawn in {colour}",
    "a {colour} motif on a {background} background",
    "a {size} {motif} on {background} paper",
)
_WORD_VALUES: dict[str, tuple[int, int]] = {  # word -> (attribute index, value)
    **{m: (0, i) for i, m in enumerate(MOTIFS)},
    **{PLURALS[m]: (0, i) for i, m in enumerate(MOTIFS)},
    **{c: (1, i) for i, c in enumerate(COLOURS)},
    **{b: (2, i) for i, b in enumerate(BACKGROUND_WORDS)},
    **{s: (3, i) for i, s in enumerate(SIZE_WORDS)},
}


def attributes_to_code(attributes: np.ndarray) -> np.ndarray:
    """Mixed-radix code of (motif, colour, background, size bin). Shapes: (N, 4) -> int64 (N,)."""
    attributes = np.asarray(attributes, dtype=np.int64)
    return np.ravel_multi_index(tuple(attributes.T), ATTRIBUTE_SIZES).astype(np.int64)


def code_to_attributes(codes: np.ndarray | torch.Tensor) -> np.ndarray:
    """Inverse of :func:`attributes_to_code`. Shapes: (N,) -> int64 (N, 4); a bad code is a DataError."""
    codes = np.asarray(codes, dtype=np.int64).reshape(-1)
    if codes.size and (codes.min() < 0 or codes.max() >= NUM_CODES):
        raise DataError(f"caption codes must lie in 0..{NUM_CODES - 1}, got {codes.min()}..{codes.max()}.")
    return np.stack(np.unravel_index(codes, ATTRIBUTE_SIZES), axis=1).astype(np.int64)


def factors_to_attributes(factors: np.ndarray) -> np.ndarray:
    """shapes64 factors (N, 7) -> described attributes (N, 4): motif, hue, background, size // 2."""
    factors = np.asarray(factors, dtype=np.int64)
    return np.stack([factors[:, 0], factors[:, 1], factors[:, 2], factors[:, 5] // 2], axis=1)


def caption(attributes: tuple[int, int, int, int] | np.ndarray, template: int = 0) -> str:
    """The caption of one attribute tuple (motif, colour, background, size bin) from template ``template``."""
    m, c, b, s = (int(v) for v in attributes)
    motif = MOTIFS[m]
    return TEMPLATES[template].format(
        motif=motif, motifs=PLURALS[motif], colour=COLOURS[c], background=BACKGROUND_WORDS[b], size=SIZE_WORDS[s]
    )


def random_captions(codes: torch.Tensor, generator: torch.Generator) -> list[str]:
    """One caption per code, each from a template drawn uniformly with ``generator``."""
    templates = torch.randint(0, len(TEMPLATES), (len(codes),), generator=generator).tolist()
    return [caption(a, t) for a, t in zip(code_to_attributes(codes), templates)]


def canonical_captions(codes: torch.Tensor | np.ndarray) -> list[str]:
    """The full caption (template 0, every attribute named) of each code."""
    return [caption(a) for a in code_to_attributes(codes)]


# --- tokenizer ---------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Lower-case words of a prompt; commas and full stops are dropped."""
    return re.sub(r"[,.]", " ", text.lower()).split()


@lru_cache(maxsize=1)
def vocabulary() -> tuple[str, ...]:
    """Every word any template can produce, sorted, after the two special tokens."""
    found = {w for t in TEMPLATES for w in words(re.sub(r"\{\w+\}", " ", t))} | set(_WORD_VALUES)
    return (PAD, START, *sorted(found))


def max_tokens() -> int:
    """Longest tokenized caption (start token included)."""
    return 1 + max(len(words(caption((0, 0, 0, 0), t))) for t in range(len(TEMPLATES)))


def check_prompt(text: str) -> list[str]:
    """The words of ``text``; any word outside the vocabulary is a DataError naming it."""
    vocab = set(vocabulary())
    unknown = [w for w in words(text) if w not in vocab or w in (PAD, START)]
    if unknown:
        raise DataError(
            f"unknown word{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} in prompt {text!r}; "
            f"prompts use motifs ({', '.join(MOTIFS)}), colours ({', '.join(COLOURS)}), "
            f"backgrounds ({', '.join(BACKGROUND_WORDS)}), sizes ({', '.join(SIZE_WORDS)}) and the template words"
        )
    if len(words(text)) + 1 > max_tokens():
        raise DataError(f"prompt {text!r} has {len(words(text))} words; at most {max_tokens() - 1} fit")
    return words(text)


def tokenize(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and a validity mask, padded to :func:`max_tokens`.

    Shapes: N texts -> ids int64 (N, L), mask bool (N, L) (True = a real token).
    """
    index = {w: i for i, w in enumerate(vocabulary())}
    length = max_tokens()
    ids = torch.zeros(len(texts), length, dtype=torch.long)
    for row, text in enumerate(texts):
        tokens = [index[START]] + [index[w] for w in check_prompt(text)]
        ids[row, : len(tokens)] = torch.tensor(tokens)
    return ids, ids != 0


def parse_prompt(text: str) -> tuple[int | None, int | None, int | None, int | None]:
    """The attributes a prompt names, None where it names none; two values for one attribute is a DataError."""
    found: list[int | None] = [None] * len(ATTRIBUTES)
    for w in check_prompt(text):
        if w in _WORD_VALUES:
            j, value = _WORD_VALUES[w]
            if found[j] is not None and found[j] != value:
                raise DataError(f"prompt {text!r} names two values of the {ATTRIBUTES[j]}")
            found[j] = value
    return tuple(found)  # type: ignore[return-value]


# --- the data set -------------------------------------------------------------------------


def downsample(images: np.ndarray) -> np.ndarray:
    """2x2 box filter. Shapes: uint8 (N, 3, 64, 64) -> uint8 (N, 3, 32, 32)."""
    n, c, h, w = images.shape
    out = np.empty((n, c, h // 2, w // 2), dtype=np.uint8)
    for lo in range(0, n, 2048):  # (B, C, H/2, 2, W/2, 2) -> mean over each 2x2 block
        block = images[lo : lo + 2048].reshape(-1, c, h // 2, 2, w // 2, 2).astype(np.float32)
        out[lo : lo + 2048] = np.rint(block.mean(axis=(3, 5)))
    return out


def held_out_mask(attributes: np.ndarray) -> np.ndarray:
    """True where the (motif, colour) pair is held out. Shapes: (N, 4) -> bool (N,)."""
    pairs = attributes[:, 0] * len(COLOURS) + attributes[:, 1]
    return np.isin(pairs, [m * len(COLOURS) + c for m, c in HELD_OUT_PAIRS])


def load_captions32(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images, codes) of a split: train without the held-out pairs, test whole.

    Shapes: images uint8 (N, 3, 32, 32) (read-only), codes int64 (N,) (see :func:`code_to_attributes`).
    """
    return _captions32(split)


@lru_cache(maxsize=2)
def _captions32(split: str) -> tuple[np.ndarray, np.ndarray]:
    images = load_shapes64(split)[0]
    attributes = factors_to_attributes(shapes64_factors(split)[0])
    keep = ~held_out_mask(attributes) if split == "train" else np.ones(len(attributes), dtype=bool)
    small, codes = downsample(images[keep]), attributes_to_code(attributes[keep])
    small.setflags(write=False)
    codes.setflags(write=False)
    return small, codes


def render_attributes(attributes: tuple[int, int, int, int], n: int, seed: int) -> np.ndarray:
    """``n`` real 32x32 images of one attribute tuple, position, count and exact size drawn at random.

    Shapes: -> uint8 (n, 3, 32, 32). The reference set for a prompt's FID and accuracy ceiling.
    """
    factors = sample_shapes64_factors(n, seed)
    m, c, b, s = attributes
    factors[:, 0], factors[:, 1], factors[:, 2] = m, c, b
    factors[:, 5] = 2 * s + factors[:, 5] % 2  # a size inside the bin
    return downsample(render_shapes64(factors))
