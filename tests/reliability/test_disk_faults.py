"""Disk full and read-only output while training: one clear line and exit 2, the checkpoints
already written untouched, no temp files left, and a later resume ends where an unbroken run ends.

Faults are injected where genlab.atomic meets the OS (we run as root, so chmod would not stop
a write): writing the temp file, fsync, the rename, creating the temp file; and the append
to metrics.jsonl. Each fires once, at the second write of its target, then the disk "recovers".
"""

import errno
import os
import pathlib
import re
import tempfile

import pytest
import yaml
from cli_helpers import one_line_error, run
from reliability.helpers import assert_same_run, tiny_run

import genlab.runs.rundir as rundir
from genlab.atomic import WriteError, atomic_write_bytes
from genlab.cli import main

CHECKPOINT = r"checkpoints/\.?step_\d{8}\.safetensors"
CHECKPOINT_JSON = r"checkpoints/\.?step_\d{8}\.json"
GRID = r"samples/\.?step_\d{8}\.png"
METRICS = r"metrics\.jsonl$"
WORDS = {errno.ENOSPC: "disk is full", errno.EROFS: "read-only", errno.EACCES: "permission denied"}
NAMES = {CHECKPOINT: "tensors", CHECKPOINT_JSON: "json", GRID: "grid", METRICS: "metrics"}
FILES = {
    CHECKPOINT: r"checkpoints/step_\d{8}\.safetensors:",
    CHECKPOINT_JSON: r"checkpoints/step_\d{8}\.json:",
    GRID: r"samples/step_\d{8}\.png:",
    METRICS: r"/metrics\.jsonl:",
}


class Fault:
    """Raise ``OSError(code)`` at the ``at``-th call whose path matches ``pattern``, once."""

    def __init__(self, code: int, pattern: str, at: int = 2) -> None:
        self.code, self.pattern, self.at, self.seen = code, re.compile(pattern), at, 0
        self.snapshot: dict[str, bytes] | None = None  # the run's checkpoints as they were when it fired

    def fires(self, path) -> bool:
        if self.snapshot is not None or not self.pattern.search(str(path)):
            return False
        self.seen += 1
        if self.seen < self.at:
            return False
        run_dir = next((p for p in pathlib.Path(path).parents if (p / "checkpoints").is_dir()), None)
        found = [] if run_dir is None else (run_dir / "checkpoints").iterdir()
        self.snapshot = {
            p.name: p.read_bytes() for p in found if not p.name.startswith(".")
        }  # temp files are not checkpoints
        return True

    def error(self) -> OSError:
        return OSError(self.code, os.strerror(self.code))


def inject(monkeypatch, where: str, fault: Fault) -> None:
    """Make ``where`` (write, fsync, rename, mkstemp or append) fail as ``fault`` says."""
    if where == "write":  # half the bytes reach the temp file, then the disk is full
        real = pathlib.Path.write_bytes

        def write_bytes(self, data):
            if fault.fires(self):
                real(self, data[: len(data) // 2])
                raise fault.error()
            return real(self, data)

        monkeypatch.setattr(pathlib.Path, "write_bytes", write_bytes)
    elif where == "fsync":
        real_fsync = os.fsync

        def fsync(fd):
            if fault.fires(os.readlink(f"/proc/self/fd/{fd}")):
                raise fault.error()
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
    elif where == "rename":
        real_replace = os.replace

        def replace(src, dst):
            if fault.fires(dst):
                raise fault.error()
            real_replace(src, dst)

        monkeypatch.setattr(os, "replace", replace)
    elif where == "mkstemp":
        real_mkstemp = tempfile.mkstemp

        def mkstemp(suffix=None, prefix=None, dir=None, text=False):
            if fault.fires(os.path.join(dir, prefix)):
                raise fault.error()
            return real_mkstemp(suffix=suffix, prefix=prefix, dir=dir, text=text)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    elif where == "append":  # the open() of append_metrics: half a line, then the error

        class Torn:
            def __init__(self, path, *args, **kwargs):
                self.f = open(path, *args, **kwargs)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, text):
                if fault.fires(self.f.name):
                    self.f.write(text[: len(text) // 2])
                    raise fault.error()
                return self.f.write(text)

        monkeypatch.setattr(rundir, "open", Torn, raising=False)


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory):
    """An unbroken tiny VAE run, and the YAML config it came from."""
    folder = tmp_path_factory.mktemp("unbroken")
    config = folder / "vae.yaml"
    config.write_text(yaml.safe_dump(tiny_run("vae", steps=8, keep_last=2).to_dict()))
    assert main(["train", "--config", str(config), "--out", str(folder / "run"), "-q"]) == 0
    return folder / "run", config


CASES = [
    ("write", errno.ENOSPC, CHECKPOINT),
    ("fsync", errno.ENOSPC, CHECKPOINT),
    ("rename", errno.EROFS, CHECKPOINT),
    ("mkstemp", errno.EACCES, CHECKPOINT),
    ("write", errno.ENOSPC, CHECKPOINT_JSON),
    ("rename", errno.EACCES, CHECKPOINT_JSON),
    ("write", errno.ENOSPC, GRID),
    ("mkstemp", errno.EROFS, GRID),
    ("append", errno.ENOSPC, METRICS),
    ("append", errno.EROFS, METRICS),
]


@pytest.mark.parametrize(
    "where, code, target", CASES, ids=[f"{w}-{errno.errorcode[c]}-{NAMES[t]}" for w, c, t in CASES]
)
def test_a_failed_write_stops_cleanly_and_the_run_resumes_bit_for_bit(
    where, code, target, tmp_path, monkeypatch, capsys, unbroken, deterministic
):
    whole, config = unbroken
    split = tmp_path / "run"
    fault = Fault(code, target)
    inject(monkeypatch, where, fault)
    status, _, err = run(capsys, "train", "--config", config, "--out", split, "-q")
    one_line_error(status, err, "cannot write", WORDS[code])
    assert re.search(FILES[target], err), err  # names the file it could not write
    assert fault.snapshot  # it fired, with checkpoints already on disk ...
    for name, data in fault.snapshot.items():  # ... and left them as they were
        assert (split / "checkpoints" / name).read_bytes() == data, name
    assert not [p for p in split.rglob("*.tmp")]  # no temp file left behind
    monkeypatch.undo()  # the disk recovers
    status, _, err = run(capsys, "train", "--resume", split, "-q")
    assert status == 0, err
    assert_same_run(whole, split)


def test_write_error_is_one_line_and_still_an_oserror(tmp_path, monkeypatch):
    fault = Fault(errno.ENOSPC, r"f\.bin", at=1)
    inject(monkeypatch, "fsync", fault)
    with pytest.raises(WriteError) as caught:
        atomic_write_bytes(tmp_path / "f.bin", b"x" * 10)
    assert isinstance(caught.value, OSError) and caught.value.errno == errno.ENOSPC
    assert str(caught.value).startswith(f"cannot write {tmp_path / 'f.bin'}: the disk is full") and "\n" not in str(
        caught.value
    )
    assert fault.snapshot == {} and list(tmp_path.iterdir()) == []  # the temp file is gone


def test_sample_to_a_read_only_place_is_one_line(tmp_path, monkeypatch, capsys, unbroken):
    whole, _ = unbroken
    inject(monkeypatch, "rename", Fault(errno.EROFS, r"out\.npz$", at=1))
    status, _, err = run(capsys, "sample", whole, "-n", "4", "-o", tmp_path / "out.npz")
    one_line_error(status, err, "cannot write", "out.npz", "read-only")
    assert not (tmp_path / "out.npz").exists() and not list(tmp_path.glob("*.tmp"))
