"""Bad input everywhere, with hypothesis: IDX files, .npz samples, YAML configs and --set
overrides (checkpoints and PNG provenance: test_fuzz_artifacts.py). Each parser either reads
the input or raises its GenlabError; through the CLI that is one ``genlab: error:`` line and
exit status 2, never a traceback. Headers that declare huge sizes are refused without
allocating them.
"""

import gzip
import io
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from cli_helpers import one_line_error, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability.helpers import peak_bytes

from genlab.config import TrainConfig, apply_overrides, parse_sets
from genlab.data import load_samples
from genlab.data.idx import idx_bytes, read_idx, read_idx_bytes
from genlab.errors import ConfigError, DataError
from genlab.models.registry import get_family

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FEW = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- IDX -----------------------------------------------------------------------------
VALID_IDX = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@FUZZ
@given(st.binary(max_size=64))
def test_idx_any_bytes_read_or_dataerror(data):
    try:
        read_idx_bytes(data)
    except DataError:
        pass


@FUZZ
@given(cut=st.integers(0, len(VALID_IDX) - 1), flip=st.tuples(st.integers(0, 3), st.integers(1, 255)))
def test_idx_truncated_or_bad_header_is_a_dataerror(cut, flip):
    with pytest.raises(DataError, match="truncated|size mismatch"):
        read_idx_bytes(VALID_IDX[:cut])
    pos, xor = flip
    damaged = bytearray(VALID_IDX)
    damaged[pos] ^= xor
    try:
        read_idx_bytes(bytes(damaged))  # ndim changed to one that happens to fit, say
    except DataError as e:
        assert any(w in str(e) for w in ("magic", "dtype code", "truncated", "size mismatch", "too large")), e


@FUZZ
@given(dims=st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=6), payload=st.binary(max_size=32))
def test_idx_huge_declared_dims_are_refused_before_allocating(dims, payload):
    header = bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}i", *dims)
    outcome, peak = peak_bytes(read_idx_bytes, header + payload)
    if np.prod(dims, dtype=object) != len(payload):
        assert isinstance(outcome, DataError) and ("size mismatch" in str(outcome) or "too large" in str(outcome))
    assert peak < 1 << 20  # nothing near the declared size was allocated


def test_idx_dims_whose_product_overflows_int64_are_refused():
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">3i", 2**30, 2**30, 16)  # 2**64 items: 0 in int64
    with pytest.raises(DataError, match="too large for any array"):
        read_idx_bytes(header)
    empty = bytes([0, 0, 0x08, 4]) + struct.pack(
        ">4i", 0, 2**31 - 1, 2**31 - 1, 2**31 - 1
    )  # no items, but NumPy cannot shape it
    with pytest.raises(DataError, match="too large for any array"):
        read_idx_bytes(empty)


def test_idx_gzip_bomb_is_refused_after_reading_only_what_the_header_declares(tmp_path):
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(1, np.uint8)) + bytes(32 << 20)))  # 32 MiB of zeros after 1 item
    assert path.stat().st_size < 100_000
    outcome, peak = peak_bytes(read_idx, path)
    assert isinstance(outcome, DataError) and "extra bytes" in str(outcome)
    assert peak < 4 << 20


def test_idx_through_the_cli_is_one_line(tmp_path, capsys):
    for stem in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (tmp_path / stem).write_bytes(VALID_IDX[:7])  # truncated
    code, _, err = run(capsys, "train", "vae", "--steps", "1", "--data-dir", tmp_path, "--out", tmp_path / "run")
    one_line_error(code, err, "train-images-idx3-ubyte")


# -- .npz samples --------------------------------------------------------------------
def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


class Marker:
    """Unpickling this creates the file at ``path`` (what a malicious pickle would do)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


ARRAYS = st.sampled_from([np.uint8, np.int64, np.float32, np.bool_, np.complex64, "U3", np.uint16]).flatmap(
    lambda dt: st.lists(st.integers(0, 4), min_size=0, max_size=5).map(lambda shape: np.zeros(shape, dtype=dt))
)


@FUZZ
@given(images=ARRAYS, labels=st.one_of(st.none(), ARRAYS), extra=st.sampled_from([None, "images2", "x"]))
def test_npz_with_any_arrays_loads_or_is_a_dataerror(images, labels, extra):
    arrays = (
        {"images": images} | ({"labels": labels} if labels is not None else {}) | ({extra: images} if extra else {})
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.npz"
        path.write_bytes(npz_bytes(**arrays))
        try:
            got, got_labels = load_samples(path)
        except DataError:
            return
    assert got.dtype == np.uint8 and got.ndim == 4 and got.shape[1] in (1, 3) and min(got.shape) >= 1
    assert got_labels is None or got_labels.shape == (got.shape[0],)


@FUZZ
@given(cut=st.integers(0, 400), junk=st.binary(max_size=16))
def test_npz_truncated_or_garbled_is_a_dataerror(tmp_path, cut, junk):
    good = npz_bytes(images=np.zeros((2, 4, 4), np.uint8))
    path = tmp_path / "s.npz"
    path.write_bytes(good[:cut] + junk)
    try:
        load_samples(path)
    except DataError:
        pass


def test_npz_object_array_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    path.write_bytes(npz_bytes(images=np.array([Marker(marker)], dtype=object)))
    with pytest.raises(DataError, match="Python objects"):
        load_samples(path)
    assert not marker.exists()


def test_npz_huge_declared_shape_is_refused_before_allocating(tmp_path):
    header = {"descr": "|u1", "fortran_order": False, "shape": (10**6, 10**6, 28)}  # 28 TB declared
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, header)
    member.write(bytes(64))
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images.npy", member.getvalue())
    outcome, peak = peak_bytes(load_samples, path)
    assert isinstance(outcome, DataError) and "declares shape" in str(outcome)
    assert peak < 1 << 20


def test_npz_a_plain_npy_file_is_a_dataerror(tmp_path):
    np.save(tmp_path / "s.npy", np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(DataError, match="not a readable .npz"):
        load_samples(tmp_path / "s.npy")


@pytest.mark.parametrize(
    "arrays, words",
    [
        ({"pictures": np.zeros((2, 4, 4), np.uint8)}, ["no 'images' array"]),
        ({"images": np.zeros((2, 4, 4), np.float32)}, ["uint8"]),
        ({"images": np.zeros((2, 2, 4, 4), np.uint8)}, ["C = 1 or 3"]),
        ({"images": np.zeros((2, 0, 4), np.uint8)}, ["at least 1 x 1"]),
        ({"images": np.zeros((2, 4, 4), np.uint8), "labels": np.array([0, -1])}, [">= 0"]),
        ({"images": np.zeros((2, 4, 4), np.uint8), "labels": np.array([0.5, 1])}, ["labels must be 2 integers"]),
    ],
)
def test_npz_bad_samples_through_the_cli_are_one_line(arrays, words, tmp_path, capsys):
    (tmp_path / "s.npz").write_bytes(npz_bytes(**arrays))
    code, _, err = run(capsys, "eval", tmp_path / "s.npz", "-n", "2")
    one_line_error(code, err, *words)


# -- YAML configs and --set overrides ------------------------------------------------
TRAIN_KEYS = list(TrainConfig.__dataclass_fields__)
WORDS = st.text(alphabet="abcxyz", min_size=1, max_size=4)  # never parses as a number, a bool or a family
TINY_TRAIN = {"steps": 1, "batch_size": 8, "grid_size": 4}
YAML_FAULTS = st.one_of(
    st.builds(
        lambda k, v: {"family": "vae", "train": {**TINY_TRAIN, k: v}},
        WORDS.filter(lambda k: k not in TRAIN_KEYS),
        st.integers(),
    ),  # unknown key
    st.builds(
        lambda v: {"family": "vae", "train": {**TINY_TRAIN, "batch_size": v}},
        st.one_of(st.integers(-5, 0), WORDS, st.floats(max_value=0.5)),
    ),
    st.builds(lambda v: {"family": "vae", "train": {**TINY_TRAIN, "nonfinite": v}}, WORDS),
    st.builds(
        lambda k: {"family": "vae", "train": {**TINY_TRAIN, k: -1}},
        st.sampled_from(["seed", "checkpoint_every", "eval_every", "keep_last", "log_every"]),
    ),
    st.builds(
        lambda v: {"family": v, "train": TINY_TRAIN},
        st.one_of(st.integers(), WORDS, st.lists(st.integers(), max_size=2)),
    ),
    st.builds(
        lambda v: {"family": "vae", "model": v, "train": TINY_TRAIN},
        st.one_of(st.integers().filter(bool), WORDS, st.lists(st.integers(), min_size=1, max_size=2)),
    ),
    st.builds(
        lambda v: {"family": "vae", "train": v},
        st.one_of(st.integers().filter(bool), WORDS, st.lists(st.integers(), min_size=1, max_size=2)),
    ),
    st.builds(
        lambda v: {"family": "vae", "model": {"latent_dim": v}, "train": TINY_TRAIN},
        st.one_of(st.integers(-3, 0), WORDS),
    ),
    st.one_of(st.lists(st.integers(), max_size=3), st.integers(), WORDS),  # not a mapping
)


@FEW
@given(doc=YAML_FAULTS)
def test_yaml_config_faults_are_one_line(doc, capsys):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.yaml"
        path.write_text(yaml.safe_dump(doc))
        code, _, err = run(capsys, "train", "--config", path, "--out", Path(folder) / "run", "--steps", "1", "-q")
    one_line_error(code, err)


@pytest.mark.parametrize(
    "text, words",
    [
        ("!!python/object/apply:os.system ['touch /tmp/genlab-pwned']", ["cannot read config file"]),
        ("family: vae\ntrain: !!python/object:genlab.config.TrainConfig {}", ["cannot read config file"]),
        ("family: vae\ntrain: {steps: 1\n", ["cannot read config file"]),
        ("- family\n- vae\n", ["must hold a mapping"]),
        (
            "family: vae\ntrain: {stepz: 3}",
            ["unknown TrainConfig key(s) stepz", "known keys: dataset,", "seed", "steps"],
        ),
        ("family: vae\ntrain: {nonfinite: nope}", ["nonfinite must be one of stop, skip, rollback"]),
        ("family: vae\ntrain: {batch_size: 0}", ["batch_size must be >= 1"]),
        ("family: vae\ntrain: {batch_size: many}", ["batch_size must be an integer"]),
        ("family: vae\ntrain: {max_minutes: .nan}", ["max_minutes must be a finite number"]),
        ("family: [vae]\n", ["family must be a family name"]),
        ("family: vae\nmodel: 3\n", ["model must be a mapping"]),
    ],
)
def test_yaml_config_messages_name_the_key_and_the_allowed_values(text, words, tmp_path, capsys):
    (tmp_path / "c.yaml").write_text(text)
    code, _, err = run(capsys, "train", "--config", tmp_path / "c.yaml", "--out", tmp_path / "run")
    one_line_error(code, err, *words)
    assert not Path("/tmp/genlab-pwned").exists()


@FUZZ
@given(
    items=st.lists(
        st.one_of(
            st.sampled_from(TRAIN_KEYS + ["latent_dim", "lr", "hidden"]).flatmap(
                lambda k: st.text(max_size=6).map(lambda v: f"{k}={v}")
            ),
            st.text(max_size=10),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_set_overrides_apply_or_raise_configerror(items):
    spec = get_family("vae")
    try:
        tc, model = apply_overrides([TrainConfig(), spec.config_cls()], parse_sets(items))
        tc.check()
        model.check()
    except ConfigError:
        pass


@pytest.mark.parametrize(
    "item, words",
    [
        ("stepz=3", ["unknown config key(s) stepz", "known keys:", "steps"]),
        ("nonfinite=maybe", ["nonfinite must be one of stop, skip, rollback"]),
        ("lr=nan", ["lr must be a finite number"]),
        ("batch_size=-4", ["batch_size must be >= 1"]),
        ("batch_size=1e400", ["batch_size must be an integer"]),
        ("visible_watermark=perhaps", ["visible_watermark must be true or false"]),
        ("no-equals-sign", ["--set expects key=value"]),
    ],
)
def test_set_overrides_through_the_cli_are_one_line(item, words, tmp_path, capsys):
    code, _, err = run(capsys, "train", "vae", "--steps", "1", "--out", tmp_path / "run", "--set", item)
    one_line_error(code, err, *words)
