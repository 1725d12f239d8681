"""Measure, over seeds, the numbers the 'trains' tests assert (issue 23): the distributions in their docstrings.

    python benchmarks/margins.py --threads 1 --seeds 20 text pix2pix detect numpy-gan ddpm1d toy
    python benchmarks/margins.py --threads 2 --seeds 20 text pix2pix detect
    python benchmarks/margins.py --seeds 20 toy-threads     # are 2-thread toy runs bit-identical to 1-thread ones?

One JSON line per (case, seed) on stdout; seed 0 is the test's own setting. Each case varies every seed the
test fixes (model, data, draws), so the spread is what another machine's float sums could give. Under a
competing load, 2 torch threads are slow unless OMP_WAIT_POLICY=PASSIVE (it changes no number).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' own builders


def emit(case: str, seed: int, **numbers) -> None:
    print(json.dumps({"case": case, "threads": torch.get_num_threads(), "seed": seed, **numbers}), flush=True)


def text(seeds):
    """text-ddpm, 30 steps on one batch: loss of the last 10 steps, trained / a frozen copy on the same draws."""
    from models.test_text_ddpm import INFO, batch

    from genlab.models.registry import get_family

    spec = get_family("text-ddpm")

    def build(seed):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return spec.family_cls(spec.config_cls(**spec.tiny), INFO)

    for seed in seeds:
        (x, y), family, frozen = batch(16, seed=seed), build(seed), build(seed)
        frozen.opts["adam"].param_groups[0]["lr"] = 0.0
        draws = [torch.Generator().manual_seed(100 * seed + s) for s in range(30)]
        trained = [family.train_step(x, y, g)["loss"] for g in draws]
        draws = [torch.Generator().manual_seed(100 * seed + s) for s in range(30)]
        base = [frozen.train_step(x, y, g)["loss"] for g in draws]
        emit(
            "text",
            seed,
            trained_over_frozen=sum(trained[-10:]) / sum(base[-10:]),
            last5_over_first5=sum(trained[-5:]) / sum(trained[:5]),
        )


def pix2pix(seeds):
    """pix2pix L1-only, 40 steps on test pairs 8s..8s+8: last / first L1 (and with the learning rate at 0)."""
    from models.test_pix2pix import build

    from genlab.data.translation import load_translation

    pairs_all = load_translation("digits-outline", "test")[0]
    for seed in seeds:
        for lr_scale in (1.0, 0.0):
            family = build(seed=seed, adversarial=False, l1_weight=100.0, lr=2e-3)
            for group in family.opts["generator"].param_groups:
                group["lr"] *= lr_scale
            pairs = torch.from_numpy(pairs_all[8 * seed : 8 * seed + 8].copy()).float() / 127.5 - 1
            g = torch.Generator().manual_seed(seed)
            first = family.train_step(pairs, None, g)["loss_l1"]
            for _ in range(40):
                last = family.train_step(pairs, None, g)["loss_l1"]
            emit("pix2pix" if lr_scale else "pix2pix-lr0", seed, last_over_first=last / first)


def detect(seeds):
    """Both detectors on the sets of tests/detect: separation (AUC, AP, FPR, TPR) and the real-vs-real control."""
    from detect.conftest import blurred, checkerboard

    from genlab.data import load_dataset
    from genlab.detect import evaluate_detector, train_detector

    train, test = load_dataset("mnist", "train")[0], load_dataset("mnist", "test")[0]
    fit, fake_src, real_test, fake_test = train[:600], train[600:1200], test[:300], test[300:600]
    for seed in seeds:
        for kind in ("spectral", "cnn"):
            settings = {"epochs": "2"} if kind == "cnn" else None
            for name, make in (("checkerboard", checkerboard), ("blurred", blurred)):
                det, info = train_detector(kind, fit, make(fake_src), seed=seed, overrides=settings)
                r = evaluate_detector(det, info["threshold_logit"], real_test, make(fake_test), n_resamples=100)
                emit(f"detect-{kind}-{name}", seed, auc=r.auc.value, ap=r.ap.value, fpr=r.fpr, tpr=r.tpr)
            det, info = train_detector(kind, fit, fake_src, seed=seed, overrides=settings)
            r = evaluate_detector(det, info["threshold_logit"], real_test, fake_test, n_resamples=200)
            emit(f"detect-{kind}-control", seed, auc=r.auc.value, low=r.auc.low, high=r.auc.high)


def numpy_gan(seeds):
    """The NumPy GAN on the 1-D mixture (one BLAS thread, as the test): KS, W1, mode shares, D's equilibrium gap."""
    from models.test_gan_numpy import SCALE, TOY_CFG, TOY_STEPS, distances
    from scipy.stats import norm

    from genlab.data.toy import bimodal_1d
    from genlab.math.gan import VALUE_AT_EQUILIBRIUM
    from genlab.models.gan_numpy import fit_samples, generate, init_players

    single = 2 * norm.cdf(0.5 / np.sqrt(4.25)) - 1
    for seed in seeds:
        data = bimodal_1d(2000, torch.Generator().manual_seed(seed)).numpy() / SCALE
        with threadpool_limits(1, user_api="blas"):
            players, losses = fit_samples(data, TOY_CFG, steps=TOY_STEPS, seed=seed)
            s = generate(players["generator"], 5000, np.random.default_rng(seed + 1))[:, 0].astype(np.float64) * SCALE
            untrained = init_players(TOY_CFG, 1, np.random.default_rng(seed))["generator"]
            u = generate(untrained, 5000, np.random.default_rng(seed + 1))[:, 0].astype(np.float64) * SCALE
        (ks, w1), (uks, uw1) = distances(s), distances(u)
        emit(
            "numpy-gan",
            seed,
            ks=ks,
            w1=w1,
            untrained_ks=uks,
            untrained_w1=uw1,
            below_0=float(np.mean(s < 0)),
            centre_over_single=float(np.mean(np.abs(s) < 0.5) / single),
            d_gap=float(abs(losses[-100:, 0].mean() + VALUE_AT_EQUILIBRIUM)),
        )


def ddpm1d(seeds):
    """The NumPy 1-D DDPM (one BLAS thread): loss ratio last / first tenth, KS p-value, mode shares."""
    from scipy.stats import ks_2samp, norm

    from genlab.data.toy import bimodal_1d
    from genlab.models import ddpm1d_numpy as m

    single = 2 * norm.cdf(0.5 / np.sqrt(4.25)) - 1
    for seed in seeds:
        with threadpool_limits(1, user_api="blas"):
            params, losses = m.train(n_steps=3000, batch_size=256, lr=3e-3, seed=seed)
            s = m.sample(params, 2000, np.random.default_rng(seed + 1))
        reference = bimodal_1d(2000, torch.Generator().manual_seed(seed + 7)).numpy()[:, 0].astype(np.float64)
        tenth = len(losses) // 10
        emit(
            "ddpm1d",
            seed,
            loss_ratio=float(losses[-tenth:].mean() / losses[:tenth].mean()),
            ks_p=float(ks_2samp(s, reference).pvalue),
            below_0=float(np.mean(s < 0)),
            centre_over_single=float(np.mean(np.abs(s) < 0.5) / single),
        )


TOY_OPTS = {"hidden": 64, "z_dim": 16, "dropout": 0.0, "pack": 4}


def toy(seeds):
    """The slow test's PacGAN on the ring, 3000 steps: modes, modes_20, high_quality; and the untrained G."""
    from genlab.train.toy import score_toy, train_toy_gan

    for seed in seeds:
        untrained = score_toy(train_toy_gan("ring8", TOY_OPTS, seed=seed, steps=0, batch_size=128)[0], "ring8")
        score = score_toy(train_toy_gan("ring8", TOY_OPTS, seed=seed, steps=3000, batch_size=128)[0], "ring8")
        emit(
            "toy",
            seed,
            modes=score["modes"],
            modes_20=score["modes_20"],
            high_quality=score["high_quality"],
            untrained_modes=untrained["modes"],
            untrained_high_quality=untrained["high_quality"],
        )


def toy_threads(seeds, steps=100):
    """Whether 2 torch threads give bit-identical toy GAN weights to 1 thread after ``steps`` steps."""
    from genlab.train.toy import train_toy_gan

    before = torch.get_num_threads()
    for seed in seeds:
        weights = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            model = train_toy_gan("ring8", TOY_OPTS, seed=seed, steps=steps, batch_size=128)[0]
            weights.append({f"{n}.{k}": v for n, net in model.nets.items() for k, v in net.state_dict().items()})
        same = all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
        emit("toy-threads", seed, steps=steps, identical=same)
    torch.set_num_threads(before)


CASES = {
    "text": text,
    "pix2pix": pix2pix,
    "detect": detect,
    "numpy-gan": numpy_gan,
    "ddpm1d": ddpm1d,
    "toy": toy,
    "toy-threads": toy_threads,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="+", choices=list(CASES))
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for case in args.cases:
        CASES[case](range(args.seeds))


if __name__ == "__main__":
    main()
