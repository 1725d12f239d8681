"""`genlab compare` and `genlab report` end to end on tiny runs, checked in headless Chromium."""

import json
import re

import pytest
from browser_helpers import broken_images, chrome, console_errors, screenshot_is_blank
from cli_helpers import one_line_error, run

from genlab.cli import main
from genlab.report.table import NO_CLAIMS

TINY = {  # the registry's tiny sizes, as in tests/cli/test_latent.py
    "gan-a": ["gan", "--seed", "0", "--set", "hidden=8", "--set", "z_dim=4"],
    "gan-b": ["gan", "--seed", "1", "--set", "hidden=8", "--set", "z_dim=4"],
    "vae": ["vae", "--set", "hidden=8", "--set", "latent_dim=2"],
    "ddpm": [
        "ddpm",
        "--set",
        "base_channels=4",
        "--set",
        "channel_mults=1,2",
        "--set",
        "attention=false",
        "--set",
        "diffusion_steps=20",
        "--set",
        "sample_steps=4",
    ],
}
SMALL = ["--ref-n", "300", "-n", "50", "--probe-n", "40", "--nll-k", "2", "--nll-n", "50", "--quiet"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare-runs")
    for name, args in TINY.items():
        assert (
            main(
                [
                    "train",
                    *args,
                    "--steps",
                    "2",
                    "--batch-size",
                    "8",
                    "--set",
                    "sample_every=1",
                    "--out",
                    str(root / name),
                    "--quiet",
                ]
            )
            == 0
        )
    return root


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare-report") / "report"
    md = out.parent / "docs" / "compare.md"
    assert (
        main(
            [
                "compare",
                *(str(runs / n) for n in TINY),
                "-o",
                str(out),
                "--markdown",
                str(md),
                "--budget-minutes",
                "5",
                *SMALL,
            ]
        )
        == 0
    )
    return out, md


def test_report_opens_from_disk_with_no_errors_and_every_image(report, tmp_path):
    out, _ = report
    shot = tmp_path / "report.png"
    with chrome(1280, 1800) as driver:
        driver.get((out / "index.html").resolve().as_uri())
        assert console_errors(driver) == []
        assert broken_images(driver) == []
        driver.save_screenshot(str(shot))
        text = driver.find_element("tag name", "body").text
        images = driver.execute_script("return document.images.length")
    assert not screenshot_is_blank(shot)
    assert "Five axes" in text and "Textbook claims" in text and "Diffusion samples slowly" in text
    assert "Mode collapse" not in text  # no figures copied from elsewhere: every figure is of these runs
    assert images >= 4 * 3 + 2  # per run: training grids, final samples, interpolation; plus figures


def test_report_is_self_contained(report):
    out, _ = report
    html = (out / "index.html").read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html
    for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
        if not ref.startswith("data:"):
            assert (out / ref).is_file(), ref  # every image and link is a relative file in the folder
    assert "card.md" in html and all((out / "runs" / n / "card.md").is_file() for n in TINY)


def test_numbers_trace_back_to_each_runs_eval_json(report):
    out, md = report
    evals = {n: json.loads((out / "runs" / n / "eval.json").read_text()) for n in TINY}
    rows = {
        line.split(" | ")[1]: line.strip("| \n").split(" | ")
        for line in md.read_text().splitlines()
        if line.startswith("| ") and " | `" in line
    }
    fid = rows["FID ↓"]  # axis, name, source, then one cell per group: gan (2 seeds), vae, ddpm
    gan_fids = [evals["gan-a"]["eval"]["fid"], evals["gan-b"]["eval"]["fid"]]
    assert fid[3].startswith(f"{sum(gan_fids) / 2:.1f} ± ")
    assert fid[4] == f"{evals['vae']['eval']['fid']:.1f}"
    nll, bpd = rows["NLL nats ↓"], rows["NLL bits/dim ↓"]
    assert nll[3] == "n/a" and nll[4] == f"{evals['vae']['likelihood']['nll']:.1f}"
    assert evals["gan-a"]["likelihood"] is None and evals["vae"]["likelihood"]["k"] == 2
    # diffusion: the variational bound fills the cell, in the same units (nats, bits/dim)
    ddpm = evals["ddpm"]["likelihood"]
    assert nll[5] == f"{ddpm['nll']:.1f}" and bpd[5] == f"{ddpm['bits_per_dim']:.3f}" and bpd[3] == "n/a"
    assert ddpm["nll"] > 0 and ddpm["exact"] and ddpm["timesteps"] == 19
    assert (
        evals["ddpm"]["compute"]["sampling"]["peak_rss_mb"] > 0 and evals["ddpm"]["compute"]["peak_rss_train_mb"] > 0
    )
    assert "encoder mean" in evals["vae"]["latent"]["probe_what"] and "DDIM" in evals["ddpm"]["latent"]["latent"]
    assert "../report/index.html" in md.read_text()  # links relative to the Markdown file
    verdicts = [line for line in md.read_text().splitlines() if line.startswith("| VAEs have a likelihood")]
    assert verdicts and "**agrees**" in verdicts[0]


def test_one_run_report(runs, tmp_path, capsys):
    out = tmp_path / "one"
    code, stdout, _ = run(capsys, "report", runs / "vae", "-o", out, *SMALL)
    assert code == 0 and "index.html" in stdout
    html = (out / "index.html").read_text()
    assert (
        "runs/vae/final.png" in html
        and "runs/vae/interpolation.png" in html
        and (out / "runs" / "vae" / "eval.json").is_file()
    )
    # only what was measured: no textbook claims (one sentence says why) and no figures of other runs
    assert NO_CLAIMS in html and NO_CLAIMS in (out / "compare.md").read_text()
    assert "VAEs have a likelihood" not in html and "verdict" not in html
    assert "mode-collapse" not in html and not (out / "mode-collapse").exists()
    pictures = re.findall(r'<img[^>]+src="([^"]+)"', html)
    assert pictures and all(p.startswith(("runs/vae/", "figures/")) for p in pictures), pictures


@pytest.mark.slow  # two subprocesses (training, sampling): about a minute on a busy 2-core machine
def test_train_under_a_budget_then_compare(tmp_path, capsys):
    code, stdout, err = run(
        capsys,
        "compare",
        "--train",
        "gan",
        "--budget-minutes",
        "0.05",
        "--steps",
        "3",
        "--seeds",
        "1",
        "--preset",
        "tiny",
        "--runs-dir",
        tmp_path / "runs",
        "-o",
        tmp_path / "rep",
        *SMALL,
    )
    assert code == 0, err
    config = (tmp_path / "runs" / "gan-s0" / "config.yaml").read_text()
    assert "max_minutes: 0.05" in config and (tmp_path / "rep" / "runs" / "gan-s0" / "eval.json").is_file()
    # the same command again reuses the run; another budget in the same folder is refused
    code, _, err = run(
        capsys,
        "compare",
        "--train",
        "gan",
        "--budget-minutes",
        "0.1",
        "--steps",
        "3",
        "--seeds",
        "1",
        "--preset",
        "tiny",
        "--runs-dir",
        tmp_path / "runs",
        "-o",
        tmp_path / "rep",
    )
    one_line_error(code, err, "holds another run")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["compare", "{tmp}"], ["not a run directory"]),
        (["compare", "{tmp}/missing"], ["does not exist"]),
        (["compare", "--train", "gan,nosuch", "--budget-minutes", "1"], ["unknown model family", "nosuch"]),
        (["compare", "--train", "gan", "--budget-minutes", "-1"], ["--budget-minutes must be >= 0"]),
        (["compare", "--train", "gan", "--budget-minutes", "0"], ["--budget-minutes must be > 0"]),
        (["compare", "--train", "gan"], ["needs --budget-minutes"]),
        (["compare", "--train", "gan", "--budget-minutes", "1", "--preset", "huge"], ["no preset", "huge"]),
        (["compare"], ["name run directories"]),
        (["compare", "--train", "gan", "--budget-minutes", "1", "-n", "3"], ["n_samples"]),
        (["report", "{tmp}"], ["not a run directory"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, words):
    code, _, err = run(capsys, *(a.replace("{tmp}", str(tmp_path)) for a in argv))
    one_line_error(code, err, *words)
