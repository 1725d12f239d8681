"""Groups over seeds, the five-axis table and the computed textbook verdicts, on hand-made eval JSON."""

import pytest

from genlab.report.measure import training_compute
from genlab.report.table import axis_table, group_runs, verdicts


def fake(family, kind, seed, *, fid, recall, sharp, ips, precision=0.5, nll=None, step=0.5, gain=0.1, hidden=8):
    return {
        "family": family,
        "kind": kind,
        "seed": seed,
        "config": {"family": family, "model": {"hidden": hidden}, "train": {"seed": seed, "steps": 10}},
        "eval": {
            "fid": fid,
            "kid": 0.01,
            "precision": precision,
            "recall": recall,
            "coverage": 0.3,
            "modes_covered": 10,
        },
        "sharpness": {"ratio": sharp},
        "likelihood": None if nll is None else {"nll": nll},
        "latent": {"interp_mean_step": step, "probe_accuracy": 0.5 + gain, "probe_gain": gain},
        "compute": {
            "train_seconds": 60.0,
            "steps": 100,
            "parameters": 1000,
            "peak_rss_train_mb": 500.0,
            "sampling": {"images_per_s": ips, "peak_rss_mb": 600.0},
        },
    }


def textbook_runs():
    """Numbers shaped like the textbook table: GAN sharp, narrow, unstable; VAE blurry, stable; diffusion best,
    slow."""
    runs = {}
    for s, (g, v, d) in enumerate([(20, 40, 10), (60, 41, 11)]):
        runs[f"gan-s{s}"] = fake("gan", "gan", s, fid=g, recall=0.2, sharp=0.9, ips=5000, step=0.9, gain=0.05)
        runs[f"vae-s{s}"] = fake("vae", "vae", s, fid=v, recall=0.5, sharp=0.3, ips=9000, nll=90.0, step=0.2, gain=0.4)
        runs[f"ddpm-s{s}"] = fake("ddpm", "diffusion", s, fid=d, recall=0.8, sharp=0.8, ips=20, step=0.5, gain=0.1)
    return runs


def by_claim(rows):
    return {r["claim"]: r["verdict"] for r in rows}


def test_seeds_group_together_and_configs_apart():
    runs = textbook_runs()
    runs["gan-wide"] = fake("gan", "gan", 0, fid=30, recall=0.2, sharp=0.9, ips=5000, hidden=64)
    groups = group_runs(runs)
    assert [(g.label.split(" ")[0], len(g.runs)) for g in groups] == [("gan", 2), ("vae", 2), ("ddpm", 2), ("gan", 1)]
    assert groups[0].label != groups[3].label  # two gan configs are told apart by their config hash
    gan = groups[0].stats["fid"]
    assert (
        gan["mean"] == 40 and gan["std"] == pytest.approx(28.2842712) and gan["cv"] == pytest.approx(28.2842712 / 40)
    )
    assert groups[3].stats["fid"]["std"] is None  # one seed: no spread


def test_textbook_shaped_numbers_agree_with_every_claim():
    verdict = by_claim(verdicts(group_runs(textbook_runs())))
    assert set(verdict.values()) == {"agrees"}, verdict
    assert len(verdict) == 10


def test_reversed_numbers_disagree():
    runs = textbook_runs()
    for name, m in runs.items():
        if m["kind"] == "diffusion":
            m["eval"]["fid"] = 500 + m["seed"]  # now the worst quality
            m["compute"]["sampling"]["images_per_s"] = 1e6  # and the fastest sampler
    verdict = by_claim(verdicts(group_runs(runs)))
    assert verdict["Diffusion has the best quality"] == "disagrees"
    assert verdict["Diffusion samples slowly"] == "disagrees"
    assert verdict["GANs are less diverse"] == "agrees"


def test_ties_missing_families_and_single_seeds_are_not_agreements():
    runs = {k: v for k, v in textbook_runs().items() if not k.startswith("ddpm") and not k.endswith("s1")}
    for m in runs.values():
        m["eval"]["recall"] = 0.0  # both collapsed: no difference
    rows = {r["claim"]: r for r in verdicts(group_runs(runs))}
    assert rows["GANs are less diverse"]["verdict"] == "tie"
    assert (
        rows["GAN training is unstable"]["verdict"] == "not tested"
        and "2 seeds" in rows["GAN training is unstable"]["why"]
    )
    assert (
        rows["Diffusion has the best quality"]["verdict"] == "not tested"
        and "no diffusion run" in rows["Diffusion has the best quality"]["why"]
    )
    assert rows["VAEs have a likelihood"]["verdict"] == "agrees"


def test_likelihood_is_not_tested_without_a_number():
    runs = {k: v for k, v in textbook_runs().items() if k.startswith("gan")}
    assert by_claim(verdicts(group_runs(runs)))["VAEs have a likelihood"] == "not tested"


def test_table_cells_say_na_for_what_was_not_measured():
    rows = axis_table(group_runs(textbook_runs()))
    nll = next(cells for axis, name, source, cells in rows if source == "likelihood.nll")
    assert nll == ["n/a", "90.0 ± 0.0", "n/a"]
    fid = next(cells for axis, name, source, cells in rows if source == "eval.fid")
    assert fid[0] == "40.0 ± 28.3"
    assert {axis for axis, *_ in rows} == {
        "quality",
        "diversity",
        "likelihood",
        "stability",
        "latent structure",
        "compute",
    }


def test_training_compute_prefers_the_budget_stop_and_keeps_the_peak():
    records = [
        {"step": 10, "epoch": 0.1, "loss": 1.0, "elapsed_s": 5.0, "peak_rss_mb": 300.0},
        {"step": 20, "epoch": 0.2, "loss": 0.5, "elapsed_s": 9.0, "peak_rss_mb": 320.0},
        {"step": 21, "stopped": "max_minutes", "train_seconds": 60.5},
    ]
    c = training_compute(records)
    assert (c["train_seconds"], c["steps"], c["peak_rss_train_mb"], c["stopped_by_budget"]) == (60.5, 21, 320.0, True)
    old = training_compute([{"step": 5, "epoch": 0.1, "elapsed_s": 2.0}])
    assert (old["train_seconds"], old["peak_rss_train_mb"]) == (2.0, None)
    assert training_compute([])["train_seconds"] is None


def test_a_claim_with_two_parts_is_decided_on_the_parts_others_have():
    runs = textbook_runs()
    for m in runs.values():
        if m["kind"] != "vae":
            m["latent"]["probe_accuracy"] = m["latent"]["probe_gain"] = None  # e.g. every sample in one class
    row = next(r for r in verdicts(group_runs(runs)) if r["claim"] == "VAEs have good latent structure")
    assert (row["verdict"], row["why"]) == ("agrees", "on the parts that could be compared")
    for m in runs.values():
        if m["kind"] == "vae":
            m["latent"]["interp_mean_step"] = 9.0  # now the roughest paths
    row = next(r for r in verdicts(group_runs(runs)) if r["claim"] == "VAEs have good latent structure")
    assert row["verdict"] == "disagrees"
