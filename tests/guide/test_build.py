"""``genlab docs build``: the cheap (closed-form) figures into a tmp dir, their numbers, and the include blocks."""

import json
import math

from cli_helpers import one_line_error, run

from genlab.guide.build import FIGURES, local_links, refresh_includes, select, stale_includes


def test_cheap_build_writes_every_cheap_figure_and_its_record(tmp_path, capsys):
    code, out, err = run(capsys, "docs", "build", "--cheap", "--out", tmp_path)
    assert code == 0, err
    cheap = [f for f in FIGURES.values() if f.cheap]
    assert cheap and all((tmp_path / "figures" / name).stat().st_size > 0 for f in cheap for name in f.files)
    record = json.loads((tmp_path / "figures" / "build.json").read_text())
    assert record["command"] == "genlab docs build" and set(record["figures"]) == {f.name for f in cheap}
    for png in (tmp_path / "figures").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cheap_numbers_match_the_closed_forms(tmp_path, capsys):
    run(capsys, "docs", "build", "--cheap", "--out", tmp_path)
    numbers = {
        k: v["numbers"] for k, v in json.loads((tmp_path / "figures" / "build.json").read_text())["figures"].items()
    }
    d = numbers["optimal-discriminator"]
    assert math.isclose(d["value_at_equilibrium"], -2 * math.log(2), abs_tol=1e-6)  # p_g = p_data: V = -2 log 2
    assert math.isclose(d["value"], d["value_from_jsd"], abs_tol=1e-3) and d["value"] > -2 * math.log(2)
    assert [round(k, 4) for k in numbers["kl-examples"]["totals"]] == [0.4290, 2.7526]  # tests/math/test_kl.py
    assert round(numbers["alpha-bar"]["linear"]["alpha_bar_500"], 4) == 0.0786  # genlab.math.schedules docstring
    w = numbers["wasserstein-vs-jsd"]
    assert math.isclose(w["w1_at_1"], 1.0, rel_tol=1e-3) and math.isclose(
        w["w1_at_3"], 3.0, rel_tol=1e-3
    )  # W1 = |theta|
    assert math.isclose(w["jsd_at_3"], math.log(2), rel_tol=1e-3)  # disjoint supports: JSD = log 2
    g = numbers["generator-gradients"]
    assert g["minimax"]["grad_at_d_0.01"] < 0.02 < 0.98 < g["non-saturating"]["grad_at_d_0.01"]


def test_includes_are_filled_from_the_built_tables(tmp_path, capsys):
    page = tmp_path / "page.md"
    page.write_text("# x\n<!-- include: figures/kl-examples.md -->\nold\n<!-- end include -->\n")
    assert stale_includes(tmp_path) == ["page.md: figures/kl-examples.md"]
    run(capsys, "docs", "build", "--only", "kl-examples", "--out", tmp_path)
    table = (tmp_path / "figures" / "kl-examples.md").read_text()
    assert table in page.read_text() and "old" not in page.read_text()
    assert stale_includes(tmp_path) == [] and refresh_includes(tmp_path) == []  # a second refresh changes nothing


def test_unknown_figure_is_one_clear_error(tmp_path, capsys):
    code, _, err = run(capsys, "docs", "build", "--only", "nope", "--out", tmp_path)
    one_line_error(code, err, "nope", "optimal-discriminator")


def test_select_and_local_links():
    assert all(f.cheap for f in select(cheap_only=True))
    assert [f.name for f in select(["fid-small-n"], cheap_only=False)] == ["fid-small-n"]
    text = "![a](figures/a.png) [b](../results/b.md#x) [c](https://example.org) [d](#anchor)"
    assert local_links(text) == ["figures/a.png", "../results/b.md"]
