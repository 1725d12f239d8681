"""Watch a GAN's losses for the classic failure signs, and say so once.

Signs (Goodfellow 2016 tutorial; Arjovsky & Bottou 2017): the discriminator loss
collapsing towards 0 (D wins, G's gradient vanishes), the generator loss exploding, and D's
accuracy pinned at 1 (its mean sigmoid outputs on real and fake data, which the BCE games
report as ``d_real`` / ``d_fake``; genlab.training.collapse).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genlab.training.collapse import PINNED, accuracy_estimate, pinned_message


@dataclass
class DivergenceMonitor:
    """Exponential moving averages of ``loss_d``, ``loss_g`` and D's accuracy; each warning fires once."""

    d_floor: float = 0.05
    g_ceiling: float = 8.0
    warmup_steps: int = 200
    decay: float = 0.98
    _ema: dict[str, float] = field(default_factory=dict)
    _seen: int = 0
    fired: set[str] = field(default_factory=set)

    def update(self, metrics: dict[str, float]) -> list[str]:
        """Feed one step's metrics; returns warnings that fire for the first time now."""
        for key in ("loss_d", "loss_g"):
            if key in metrics:
                old = self._ema.get(key, metrics[key])
                self._ema[key] = self.decay * old + (1 - self.decay) * metrics[key]
        if "d_real" in metrics and "d_fake" in metrics:
            acc = accuracy_estimate(metrics["d_real"], metrics["d_fake"])
            self._ema["d_acc"] = self.decay * self._ema.get("d_acc", acc) + (1 - self.decay) * acc
        self._seen += 1
        if self._seen < self.warmup_steps:
            return []
        out = []
        d, g = self._ema.get("loss_d"), self._ema.get("loss_g")
        if d is not None and d < self.d_floor and "d_collapse" not in self.fired:
            self.fired.add("d_collapse")
            out.append(
                f"discriminator loss is collapsing towards 0 (moving average {d:.4f}): D wins and G gets no useful "
                "gradient"
            )
        if g is not None and g > self.g_ceiling and "g_explode" not in self.fired:
            self.fired.add("g_explode")
            out.append(f"generator loss is exploding (moving average {g:.2f}): training is likely diverging")
        acc = self._ema.get("d_acc")
        if acc is not None and acc > PINNED and "d_pinned" not in self.fired:
            self.fired.add("d_pinned")
            out.append(pinned_message(acc))
        return out

    def state_dict(self) -> dict:
        return {"ema": dict(self._ema), "seen": self._seen, "fired": sorted(self.fired)}

    def load_state_dict(self, state: dict) -> None:
        self._ema = dict(state["ema"])
        self._seen = int(state["seen"])
        self.fired = set(state["fired"])
