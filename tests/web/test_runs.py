"""Run discovery and names: only folders under --runs, never a path given by the client."""

import os

import pytest

from genlab.errors import ConfigError
from genlab.web.runs import UnknownRun, check_run_name, discover_runs, gallery, last_metrics, resolve_run


@pytest.mark.parametrize(
    "name",
    ["../etc", "/etc/passwd", "a/../b", "a//b", ".", "..", "C:\\x", "a\\..\\b", "x" * 201, "a\nb", " gan", ""],
)
def test_bad_names_are_refused(name):
    with pytest.raises(ConfigError):
        check_run_name(name)


def test_good_names_pass():
    assert check_run_name("gan") == "gan" and check_run_name("group/ddpm-2.x_1") == "group/ddpm-2.x_1"
    for name in ("gan run", "gan?x=1", "läufe/dcgan", "a/b/c/d"):  # looked up among the runs found, never joined
        assert check_run_name(name) == name


def test_discovery_finds_nested_runs_and_skips_hidden_and_outside_links(runs_root, tmp_path):
    root = tmp_path / "root"
    (root / ".hidden").mkdir(parents=True)
    (root / ".hidden" / "config.yaml").write_text("family: gan\n")
    os.symlink(runs_root / "gan", root / "linked-out")  # a link to a run outside this root
    os.symlink(runs_root, root / "group")
    assert discover_runs(root) == {}
    assert set(discover_runs(runs_root)) == {"gan", "cgan", "vae", "group/ddpm", "empty"}


def test_resolve_run_knows_only_discovered_runs(runs_root):
    assert resolve_run(runs_root, "group/ddpm") == runs_root / "group" / "ddpm"
    with pytest.raises(UnknownRun, match="unknown run 'group'"):
        resolve_run(runs_root, "group")
    with pytest.raises(ConfigError, match="'..'"):
        resolve_run(runs_root, "../" + runs_root.name + "/gan")


def test_last_metrics_reads_the_last_complete_record(tmp_path):
    lines = [f'{{"step": {i}, "loss": {i / 10}}}' for i in range(1, 3001)]  # > 64 KiB, so only the tail is read
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + '\n{"step": 30')  # torn last line
    assert last_metrics(tmp_path) == {"step": 3000, "loss": 300.0}
    assert last_metrics(tmp_path / "missing") == {}


def test_gallery_rows(runs_root):
    rows = {r.name: r for r in gallery(runs_root)}
    assert rows["cgan"].family == "cgan" and rows["cgan"].steps == 2 and rows["cgan"].can_sample
    assert rows["cgan"].grid is not None and rows["cgan"].has_card and "loss_d" in rows["cgan"].metrics
    assert not rows["empty"].can_sample and rows["empty"].problem == "no checkpoints yet"
