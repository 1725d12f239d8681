"""``genlab doctor``: the report a user pastes into a bug report, as text and as JSON."""

import gzip
import json

import torch
from cli_helpers import run

import genlab
from genlab.data.mnist import EMBEDDED_DIR, SPLIT_FILES
from genlab.doctor import collect, data_report, format_report


def test_json_report_has_every_section_and_the_real_versions(capsys):
    code, out, err = run(capsys, "doctor", "--json", "--no-checksums")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert set(report) == {"versions", "threads", "data", "device", "extras"}
    assert report["versions"]["genlab"] == genlab.__version__
    assert report["versions"]["torch"] == str(torch.__version__)
    assert report["threads"]["torch_threads"] == torch.get_num_threads()
    assert report["device"]["device"] == "cpu"
    assert set(report["extras"]) == {"iwm", "text", "browser"}
    assert all(isinstance(e["installed"], bool) for e in report["extras"].values())


def test_embedded_mnist_passes_its_checksums():
    report = data_report()
    assert report["source"] == "embedded copy" and report["folder"] == str(EMBEDDED_DIR.resolve())
    assert report["status"] == "ok"
    assert sorted(report["files"]) == sorted(s for pair in SPLIT_FILES.values() for s in pair)
    assert set(report["files"].values()) == {"ok"}


def test_a_damaged_or_missing_file_is_reported_not_raised(tmp_path):
    (images, labels) = SPLIT_FILES["test"]
    (tmp_path / f"{images}.gz").write_bytes(gzip.compress(b"not mnist"))  # wrong bytes; the other three missing
    report = data_report(tmp_path)
    assert report["source"] == "--data-dir" and report["status"] == "problem"
    assert report["files"][images].startswith("bad checksum")
    assert report["files"][labels] == "missing"


def test_environment_variable_pointing_nowhere_is_reported(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "nowhere"))
    code, out, _ = run(capsys, "doctor")
    assert code == 0
    assert "source: GENLAB_DATA" in out and "status: missing" in out and "does not exist" in out


def test_text_report_names_each_section_once():
    text = format_report(collect(checksums=False))
    headings = [line for line in text.splitlines() if line.startswith("[")]
    assert headings == ["[versions]", "[threads]", "[data]", "[device]", "[extras]"]
    assert "status: present (checksums not checked)" in text
