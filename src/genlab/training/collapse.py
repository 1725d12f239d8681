"""Signs that a generator is collapsing, read from the in-training evaluation and the discriminator's outputs.

Three signs, each a pure function of numbers the loop already has:

- one class takes more than half of the evaluation's samples (the extractor's classifier
  histogram; a uniform generator of 10 classes gives each about a tenth);
- recall (Kynkäänniemi et al. 2019: the share of real images inside the generated manifold)
  below a floor — collapsed runs in docs/results/gan.md score 0.000-0.006, every healthy MNIST
  run there scores above 0.3;
- the discriminator's accuracy pinned at 1: its mean sigmoid output on real data near 1 and on
  fakes near 0 for a sustained window (D wins and G's gradient vanishes; Arjovsky & Bottou 2017).

A GAN's warning names the options that cured collapse in docs/results/mode-collapse.md (R1 and a
generator EMA; a lower learning rate; DiffAugment; a minibatch standard-deviation layer).
"""

from __future__ import annotations

from collections.abc import Sequence

CLASS_SHARE = 0.5  # one class above this share of the samples is a sign
RECALL_FLOOR = 0.1  # recall below this is a sign
PINNED = 0.98  # D's accuracy estimate above this, sustained (genlab.training.monitor), is a sign
GAN_FIX = (
    "options that usually fix it (docs/results/mode-collapse.md): --set r1=10 --set ema=0.999 (R1 and a generator "
    "EMA), a lower learning rate (--set lr=0.0001), --set diffaug=color,translation,cutout, --set minibatch=stddev"
)


def dominant_class(histogram: Sequence[int], share: float = CLASS_SHARE) -> tuple[int, float] | None:
    """(class, its share) when one class takes more than ``share`` of the samples, else None."""
    total = sum(histogram)
    if not total:
        return None
    top = max(range(len(histogram)), key=lambda k: histogram[k])
    frac = histogram[top] / total
    return (top, frac) if frac > share else None


def collapse_signs(result: dict, *, gan: bool) -> list[str]:
    """The collapse signs of one in-training evaluation ``result`` (``class_histogram``, ``recall``, ``n``).

    Recall is judged for GANs only: a VAE's or a diffusion model's early, blurry or noisy samples
    have low recall without having collapsed.
    """
    signs = []
    counts = result.get("class_histogram")
    top = dominant_class(counts) if counts else None
    if top is not None:
        signs.append(
            f"class {top[0]} takes {top[1]:.0%} of the {sum(counts)} evaluation samples: the generator may be "
            "collapsing onto it"
        )
    recall = result.get("recall")
    if gan and isinstance(recall, (int, float)) and recall < RECALL_FLOOR:
        signs.append(
            f"recall {recall:.3f} is below {RECALL_FLOOR}: the samples cover a small part of the data (mode collapse)"
        )
    if gan and signs:
        signs[-1] += f"; {GAN_FIX}"
    return signs


def accuracy_estimate(d_real: float, d_fake: float) -> float:
    """D's mean probability of the right answer, (E D(x) + 1 - E D(G(z))) / 2, from its mean sigmoid outputs:
    a smooth stand-in for its accuracy at threshold 1/2. With an error rate w it is at most 1 - w/2 (a wrong
    answer gives the right one at most 1/2), so above 0.98 D is right on more than 96 % of the images."""
    return (d_real + 1.0 - d_fake) / 2.0


def pinned_message(accuracy: float) -> str:
    """The warning for D's accuracy pinned at 1 (a moving average ``accuracy`` above :data:`PINNED`)."""
    return (
        f"the discriminator's accuracy is pinned at 1 (moving average {accuracy:.3f}): it tells every fake from the "
        f"data, so G learns little; {GAN_FIX}"
    )
