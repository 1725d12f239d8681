"""Issue 23, part 2: what an outside probe found, each rebuilt in a tmp dir (the web app's items
are in tests/web/test_probe_web.py). Every bad input ends in one line and exit status 2, with
memory bounded where the probe saw gigabytes."""

import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_error, run
from reliability.helpers import peak_bytes, tiny_run

import genlab
import genlab.data.samples as samples_module
from genlab.data import load_samples
from genlab.errors import DataError, short_repr
from genlab.files import loads_json, loads_yaml
from genlab.runs.lock import LOCK_NAME, RunLocked, run_lock
from genlab.runs.rundir import find_checkpoint
from genlab.training import train

CHILD = Path(__file__).with_name("kill_child.py")
SRC = Path(genlab.__file__).parent


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe") / "run"
    train(tiny_run("vae", steps=2, keep_last=1), folder, quiet=True)
    return folder


def npy(shape, dtype="|u1", payload=b"") -> bytes:
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, {"descr": dtype, "fortran_order": False, "shape": shape})
    return member.getvalue() + payload


def zip_of(path, *members):
    """``members``: (name, bytes, compression) written in that order (duplicates allowed)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data, method in members:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return path


# -- 1. .npz size checks ------------------------------------------------------------------
def test_npz_member_shadowing_is_refused_as_ambiguous(tmp_path):
    """`images` (stored, harmless), `images.npy` (bzip2): the check ran on one and np.load read the other."""
    good = npy((1, 2, 2), payload=bytes(4))
    bomb = npy((40, 1000, 1000), payload=bytes(40 * 10**6))  # 40 MB of zeros in ~100 bytes of bzip2
    path = zip_of(tmp_path / "s.npz", ("images", good, zipfile.ZIP_STORED), ("images.npy", bomb, zipfile.ZIP_BZIP2))
    assert path.stat().st_size < 10_000
    outcome, peak = peak_bytes(load_samples, path)
    assert isinstance(outcome, DataError) and "ambiguous" in str(outcome), outcome
    assert peak < 1 << 20
    dup = zip_of(
        tmp_path / "d.npz", ("images.npy", good, zipfile.ZIP_STORED), ("images.npy", good, zipfile.ZIP_STORED)
    )
    with pytest.raises(DataError, match="two members"):
        load_samples(dup)


def test_a_bzip2_bomb_is_inflated_in_bounded_chunks_and_stops_at_the_cap(tmp_path):
    """zipfile inflates a bzip2 read whole (722 bytes -> 1 GB); here each call yields at most 1 MiB."""
    bomb = npy((64, 1000, 1000), payload=bytes(64 * 10**6))
    path = zip_of(tmp_path / "s.npz", ("images.npy", bomb, zipfile.ZIP_BZIP2))
    outcome, peak = peak_bytes(load_samples, path, None, 16 << 20)  # a 16 MiB cap
    assert isinstance(outcome, DataError) and "more than the 16 MiB genlab reads" in str(outcome), outcome
    assert peak < 4 << 20  # the 64 MB member was never inflated
    images, _ = load_samples(path, 3)  # -n 3: only the first 3 MB are inflated
    assert images.shape == (3, 1, 1000, 1000) and not images.any()


def test_a_deflate_member_within_the_ratio_is_capped_and_minus_n_reads_only_the_first_images(
    tmp_path, monkeypatch, capsys
):
    """The probe: 2 MB of deflate -> 2 GiB, accepted at 2.9 GB peak. Now a cap (1 GiB; 1 MiB here),
    and -n reads only the first n images, so memory follows what the command needs."""
    data = np.random.default_rng(0).integers(0, 255, (20000, 28, 28), dtype=np.uint8)
    path = tmp_path / "s.npz"
    np.savez_compressed(path, images=data, labels=np.arange(20000) % 10)
    monkeypatch.setattr(samples_module, "MAX_SAMPLES_BYTES", 1 << 20)  # the 15 MiB of images are over it
    code, _, err = run(capsys, "eval", path, "-n", "5000")
    one_line_error(code, err, "more than the 1 MiB genlab reads", "-n")
    (images, labels), peak = peak_bytes(load_samples, path, 100)  # 78 KiB of the 15 MiB
    assert np.array_equal(images[:, 0], data[:100]) and np.array_equal(labels, np.arange(100) % 10)
    assert peak < data.nbytes / 8


def test_a_huge_declared_header_through_the_cli_is_one_line(tmp_path, capsys):
    zip_of(tmp_path / "s.npz", ("images.npy", npy((100000, 1000, 1000), payload=bytes(64)), zipfile.ZIP_STORED))
    code, _, err = run(capsys, "eval", tmp_path / "s.npz", "-n", "2")
    one_line_error(code, err, "declares shape (100000, 1000, 1000)")


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_every_zip_method_still_reads_back_exactly(tmp_path, method):
    images = np.random.default_rng(1).integers(0, 255, (7, 3, 5, 4), dtype=np.uint8)
    payload = io.BytesIO()
    np.save(payload, images)
    path = zip_of(tmp_path / "s.npz", ("images.npy", payload.getvalue(), method))
    assert np.array_equal(load_samples(path)[0], images)


# -- 2. YAML alias bombs and unbounded messages ---------------------------------------------
BOMB = "".join(
    f"a{k}: &a{k} [{', '.join(['x'] * 9 if k == 0 else [f'*a{k - 1}'] * 9)}]\n" for k in range(9)
)  # 9^9 = 387 M leaves once expanded


@pytest.mark.parametrize("tail", ["family: vae\ntrain: {seed: *a8}\n", "family: *a8\n"])
def test_a_yaml_alias_bomb_is_refused_at_the_first_alias(tail, tmp_path, capsys):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB + tail)
    assert path.stat().st_size < 600
    code, _, err = run(capsys, "train", "--config", path, "--out", tmp_path / "run")
    one_line_error(code, err, "aliases (*a0) are not accepted")
    assert len(err) < 400 and not (tmp_path / "run").exists()


def test_a_wrongly_typed_large_value_is_quoted_short(tmp_path, capsys):
    value = [[list(range(50))] * 50] * 50  # 125 000 numbers written out (no aliases): ~400 KB of YAML
    (tmp_path / "c.yaml").write_text(json.dumps({"family": "vae", "train": {"seed": value}}))
    code, _, err = run(capsys, "train", "--config", tmp_path / "c.yaml", "--out", tmp_path / "run")
    one_line_error(code, err, "seed must be an integer")
    assert len(err) < 300
    nested = [[[[[[1] * 9] * 9] * 9] * 9] * 9]
    assert len(short_repr(nested)) <= 80 and short_repr(10**5000) == "<integer of 16610 bits>"


def test_yaml_and_json_depth_are_bounded():
    with pytest.raises(Exception, match="nested deeper than 128"):
        loads_yaml("[" * 5000)
    with pytest.raises(json.JSONDecodeError, match="nested deeper than 128"):
        loads_json("[" * 100_000)
    with pytest.raises(json.JSONDecodeError, match="4300 digits"):
        loads_json("1" * 5000)
    assert loads_yaml("a: &x 1\nb: 2\n") == {"a": 1, "b": 2}  # an anchor without alias is fine


def test_every_yaml_and_json_file_goes_through_the_bounded_readers():
    """No direct yaml.safe_load / yaml.load left in src/ (genlab.files is the one loader)."""
    offenders = [
        f"{p.relative_to(SRC)}"
        for p in SRC.rglob("*.py")
        if p.name != "files.py" and ("yaml.safe_load(" in p.read_text() or "yaml.load(" in p.read_text())
    ]
    assert offenders == []


# -- 3. one writer per run ------------------------------------------------------------------
def start_frozen_child(args, tmp_path, plan):
    """A fresh ``python`` running ``genlab ARGS`` that freezes at ``plan`` (kill_child.py)."""
    marker = tmp_path / "frozen"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    log = open(tmp_path / "child.log", "w")
    child = subprocess.Popen(
        [sys.executable, str(CHILD), json.dumps(plan), str(marker), *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=env,
    )
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert child.poll() is None, (tmp_path / "child.log").read_text()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return child


def test_a_second_writer_of_a_run_is_one_line_naming_the_pid_and_a_killed_holder_is_taken_over(
    vae_run, tmp_path, capsys
):
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps(tiny_run("vae", steps=4).to_dict()))
    run_dir = tmp_path / "run"
    plan = {"event": "step", "match": "train_step", "n": 3, "family": "vae"}
    child = start_frozen_child(["train", "--config", config, "--out", run_dir, "-q"], tmp_path, plan)
    try:
        assert (run_dir / LOCK_NAME).read_text().strip() == str(child.pid)
        for argv in (
            ["train", "--resume", run_dir, "--steps", "6", "-q"],
            ["card", run_dir],
            ["sample", run_dir, "-n", "2", "-o", run_dir / "x.npz"],
        ):
            code, _, err = run(capsys, *argv)
            one_line_error(code, err, f"is in use by process {child.pid}")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert (run_dir / LOCK_NAME).read_text().strip() == str(child.pid)  # stale: the kernel dropped the flock
    code, _, err = run(capsys, "train", "--resume", run_dir, "--steps", "4", "-q")
    assert code == 0, err
    assert not (run_dir / LOCK_NAME).exists() and find_checkpoint(run_dir).name == "step_00000004.json"


def test_the_lock_is_reentrant_in_one_process_and_exclusive_across_processes(tmp_path):
    with run_lock(tmp_path / "r", "test"):
        with run_lock(tmp_path / "r", "test again"):  # the card written at the end of a training
            pass
        assert (tmp_path / "r" / LOCK_NAME).exists()
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from genlab.runs.lock import run_lock\nwith run_lock({str(tmp_path / 'r')!r}): pass",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert other.returncode != 0 and f"in use by process {os.getpid()}" in other.stderr
    assert not (tmp_path / "r").exists()  # made for the lock only, so removed again
    assert issubclass(RunLocked, genlab.errors.GenlabError)


# -- 4 and 6. checkpoints: deep JSON, /dev/zero, a FIFO ---------------------------------------
def broken_copy(vae_run, tmp_path, how):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(vae_run, copy)
    ckpt = find_checkpoint(copy)
    if how == "deep json":
        ckpt.write_text("[" * 100_000)
    elif how == "json -> /dev/zero":
        ckpt.unlink()
        ckpt.symlink_to("/dev/zero")
    elif how == "tensors -> /dev/zero":
        ckpt.with_suffix(".safetensors").unlink()
        ckpt.with_suffix(".safetensors").symlink_to("/dev/zero")
    elif how == "fifo":
        ckpt.unlink()
        os.mkfifo(ckpt)
    return copy


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["deep json", "json -> /dev/zero", "tensors -> /dev/zero", "fifo"])
def test_a_hostile_checkpoint_is_one_line(how, vae_run, tmp_path, capsys):
    copy = broken_copy(vae_run, tmp_path, how)
    start = time.monotonic()
    code, _, err = run(capsys, "sample", copy, "-n", "2", "-o", tmp_path / "s.npz")
    words = {"deep json": "nested deeper than 128", "fifo": "FIFO"}.get(how, "character device")
    one_line_error(code, err, words)
    assert time.monotonic() - start < 60


# -- 6. files named on the command line ------------------------------------------------------
def png_claiming(width, height) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` grey pixels, with no pixel data to speak of."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [20000, 12000])  # over PIL's bomb limit, and under it but over genlab's
def test_a_huge_png_is_one_line(size, vae_run, tmp_path, capsys):
    big = tmp_path / "big.png"
    big.write_bytes(png_claiming(size, size))
    for argv in (
        ["latent", "interpolate", vae_run, "--from", big, "--to", "1", "-o", tmp_path / "i.png"],
        ["anomaly", "score", vae_run, "--images", big],
    ):
        code, _, err = run(capsys, *argv)
        one_line_error(code, err, "big.png")


def test_out_of_range_seeds_and_long_names_are_one_line(vae_run, tmp_path, capsys):
    for argv, words in (
        (["sample", vae_run, "-n", "2", "-o", tmp_path / "s.npz", "--seed", str(2**64)], ["--seed"]),
        (
            ["train", "vae", "--steps", "1", "--set", f"seed={2**64}", "--out", tmp_path / "r"],
            ["seed must be at most"],
        ),
        (["train", "vae", "--steps", "1", "--seed", "-1", "--out", tmp_path / "r"], ["--seed"]),
        (["train", "vae", "--steps", "1", "--out", tmp_path / ("a" * 300)], ["File name too long"]),
        (["sample", vae_run, "-n", "2", "-o", tmp_path / ("a" * 300 + ".npz")], ["File name too long"]),
    ):
        code, _, err = run(capsys, *argv)
        one_line_error(code, err, *words)


@pytest.mark.timeout(120)
def test_key_files_must_be_small_regular_files(vae_run, tmp_path, capsys):
    code, _, _ = run(capsys, "sample", vae_run, "-n", "2", "-o", tmp_path / "s.npz", "--grid", tmp_path / "g.png")
    assert code == 0
    os.mkfifo(tmp_path / "fifo.key")
    for argv, words in (
        (["verify", tmp_path / "g.png", "--key", "/dev/zero"], ["/dev/zero is a character device"]),
        (["verify", tmp_path / "g.png", "--key", tmp_path / "fifo.key"], ["FIFO"]),
        (
            [
                "sample",
                vae_run,
                "-n",
                "2",
                "-o",
                tmp_path / "t.npz",
                "--grid",
                tmp_path / "t.png",
                "--watermark-key",
                "/dev/zero",
            ],
            ["/dev/zero is a character device"],
        ),
        (["train", "--config", "/dev/zero", "--out", tmp_path / "r"], ["character device"]),
    ):
        code, _, err = run(capsys, *argv)
        one_line_error(code, err, *words)


# -- 7. sample -n large: streamed to disk ----------------------------------------------------
def test_sample_streams_batches_to_disk(vae_run, tmp_path, capsys):
    from genlab.runs.loading import load_family, sample_in_batches

    n = 1200
    assert run(capsys, "sample", vae_run, "-n", n, "-o", tmp_path / "s.npz", "--seed", 5)[0] == 0
    family, _, _ = load_family(vae_run)
    expected = sample_in_batches(family, n, seed=5)  # what the whole-array path gives
    assert np.array_equal(load_samples(tmp_path / "s.npz")[0], expected)
    # the writer holds one batch at a time: 40 batches of 500 MNIST-sized images, 15.7 MB in all
    batches = (np.full((500, 1, 28, 28), k, np.uint8) for k in range(40))
    labels = np.arange(20000) % 10
    _, peak = peak_bytes(samples_module.save_samples_stream, tmp_path / "big.npz", 20000, batches, labels)
    assert peak < 4 << 20, f"peak {peak} bytes while writing 15.7 MB"  # measured: ~1.3 MB
    images, got = load_samples(tmp_path / "big.npz")
    assert images.shape == (20000, 1, 28, 28) and images[-1].max() == 39 and np.array_equal(got, labels)
    # --grid keeps only its first 256 images (tests/cli/test_main.py::test_a_large_grid_is_capped_with_a_warning)


# -- 8. temp files of a killed writer ---------------------------------------------------------
def test_a_killed_samples_write_leaves_a_temp_file_that_the_next_write_removes(vae_run, tmp_path, capsys):
    out = tmp_path / "x.npz"
    plan = {"event": "fsync", "match": r"/\.x\.npz\.\w{8}\.tmp$", "n": 1}
    child = start_frozen_child(["sample", vae_run, "-n", "4", "-o", out], tmp_path, plan)
    live = tmp_path / ".x.npz.abcd1234.tmp"  # a live writer's: locked by this process
    live.write_bytes(b"partial")
    with open(live, "rb") as held:
        import fcntl

        fcntl.flock(held, fcntl.LOCK_EX)
        child.send_signal(signal.SIGKILL)
        child.wait()
        debris = [p for p in tmp_path.glob(".x.npz.*.tmp") if p != live]
        assert len(debris) == 1
        code, _, err = run(capsys, "sample", vae_run, "-n", "4", "-o", out)
        assert code == 0, err
        assert not debris[0].exists() and live.exists()
    assert load_samples(out)[0].shape[0] == 4


# -- 9. labels out of range ---------------------------------------------------------------------
def test_uint64_labels_beyond_int64_are_refused_before_the_cast(tmp_path, capsys):
    np.savez(tmp_path / "s.npz", images=np.zeros((2, 4, 4), np.uint8), labels=np.array([0, 2**64 - 1], np.uint64))
    code, _, err = run(capsys, "eval", tmp_path / "s.npz", "-n", "2")
    one_line_error(code, err, "labels must be class numbers <= 2147483647", "18446744073709551615")
