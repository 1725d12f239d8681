"""NaN injection shared by the trainer and reliability tests."""

import torch


def poison_train_step(family_cls, monkeypatch, bad_calls):
    """Wrap ``family_cls.train_step``: on the listed calls (1-based) take the real step, then
    fill every parameter with NaN and report a NaN loss, as a blown-up update would."""
    real, calls = family_cls.train_step, [0]

    def step(self, x, y, g):
        calls[0] += 1
        metrics = real(self, x, y, g)
        if calls[0] in bad_calls:
            with torch.no_grad():
                for net in self.nets.values():
                    for p in net.parameters():
                        p.fill_(float("nan"))
            metrics = {**metrics, "loss": float("nan")}
        return metrics

    monkeypatch.setattr(family_cls, "train_step", step)
