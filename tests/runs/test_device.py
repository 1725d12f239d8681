"""Device selection (``--device auto|cpu|cuda|mps``), checked on a CPU-only machine.

The key check runs every family's ``train_step`` and ``sample`` with "meta" as torch's
default device while the family lives on the CPU: a tensor our code makes without an
explicit device then lands on "meta", and mixing it with the CPU tensors fails, exactly
where such a tensor would have stayed on the CPU beside a CUDA model.
"""

import json

import numpy as np
import pytest
import torch
import yaml
from cli_helpers import one_line_error, run

from genlab.config import TrainConfig
from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.registry import family_names, get_family
from genlab.runs import RunConfig
from genlab.runs.checkpoint import load_checkpoint
from genlab.runs.device import resolve_device, resolve_device_for
from genlab.runs.loading import load_family
from genlab.runs.rundir import find_checkpoint
from genlab.training import train

GPU_FAMILIES = [n for n in family_names() if "cuda" in get_family(n).family_cls.device_types]
CPU_ONLY_FAMILIES = [n for n in family_names() if n not in GPU_FAMILIES]

# Options whose code paths the tiny configs leave out: every stabiliser that draws noise or
# makes tensors of its own (DiffAugment, label/instance noise, R1, EMA, DRS, PacGAN,
# guidance, other predictions and samplers, dynamic binarisation, style mixing, pools).
VARIANTS = [
    (
        "gan",
        {
            "loss": "least-squares",
            "label_smoothing": 0.1,
            "label_noise": 0.2,
            "instance_noise": 0.1,
            "diffaug": "color,translation,cutout",
            "r1": 1.0,
            "ema": 0.9,
            "minibatch": "discrimination",
            "spectral_norm": True,
        },
    ),
    ("gan", {"rejection": "drs", "pack": 2, "minibatch": "stddev"}),
    ("cgan", {"gp": 1.0, "loss": "wasserstein", "n_critic": 2}),
    ("ddpm", {"prediction": "v", "sampler": "ddpm", "guidance": 2.0}),
    ("ddpm", {"prediction": "x0", "eta": 0.5, "class_conditional": False}),
    ("vae", {"binarize": "dynamic"}),
    ("conv-vae", {"likelihood": "gaussian"}),
    ("ldm", {"guidance": 2.0, "sampler": "ddpm"}),
    ("text-ddpm", {"prediction": "v", "guidance": 2.0, "sampler": "ddpm"}),
    ("stylegan-lite", {"style_mixing": 1.0, "truncation": 0.7}),
    ("cyclegan", {"pool_size": 2}),
]


def build(name, **overrides):
    spec = get_family(name)
    c, h, w = spec.example_shape
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return spec.family_cls(
            spec.config_cls(**{**spec.tiny, **overrides}), DataInfo(channels=c, height=h, width=w, num_classes=10)
        )


def batch(family, n=8):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n * family.batches_per_step, *family.image_shape, generator=g)
    return (x * 2 - 1 if family.data_scale == "-1,1" else x), torch.randint(0, 10, (x.shape[0],), generator=g)


def no_device(monkeypatch):
    """This machine as one without CUDA or MPS, whatever it really has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


# -- resolve_device ------------------------------------------------------------------


def test_auto_is_cpu_without_cuda_or_mps_and_cuda_when_present(monkeypatch):
    no_device(monkeypatch)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_cpu_is_always_there():
    assert (
        resolve_device("cpu") == resolve_device(torch.device("cpu")) == resolve_device(" CPU ") == torch.device("cpu")
    )


@pytest.mark.parametrize("name", ["gpu", "tpu", "meta", "cuda:x", "", "cpu,cuda"])
def test_unknown_devices_are_one_line_errors(name):
    with pytest.raises(ConfigError) as e:
        resolve_device(name)
    assert (
        len(str(e.value).splitlines()) == 1 and "unknown device" in str(e.value) and "auto, cpu, cuda" in str(e.value)
    )


@pytest.mark.parametrize(
    "name, words", [("cuda", "no CUDA device here"), ("cuda:1", "no CUDA device here"), ("mps", "no MPS device here")]
)
def test_missing_devices_are_one_line_errors(monkeypatch, name, words):
    no_device(monkeypatch)
    with pytest.raises(ConfigError) as e:
        resolve_device(name)
    assert len(str(e.value).splitlines()) == 1 and words in str(e.value) and "--device cpu or auto" in str(e.value)


def test_a_cuda_index_beyond_the_devices_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ConfigError, match="2 CUDA device"):
        resolve_device("cuda:2")


def test_cli_train_on_a_missing_gpu_exits_2_with_one_line(monkeypatch, tmp_path, capsys):
    no_device(monkeypatch)
    code, _, err = run(
        capsys, "train", "vae", "--preset", "small", "--steps", "1", "--out", tmp_path / "run", "--device", "cuda"
    )
    one_line_error(code, err, "--device cuda", "no CUDA device")
    assert not (tmp_path / "run").exists()  # nothing started


def test_cli_eval_score_takes_a_device(monkeypatch, tmp_path, capsys):
    no_device(monkeypatch)
    assert (
        run(capsys, "train", "vae", "--preset", "small", "--steps", "2", "--out", tmp_path / "run", "--device", "cpu")[
            0
        ]
        == 0
    )
    code, _, err = run(capsys, "eval", "score", tmp_path / "run", "-n", "50", "--device", "cuda")
    one_line_error(code, err, "--device cuda", "no CUDA device")
    code, _, err = run(
        capsys, "eval", "score", tmp_path / "nothing.npz", "--device", "tpu"
    )  # checked before the path is read
    one_line_error(code, err, "--device tpu", "unknown device")
    scores = [
        json.loads(run(capsys, "eval", "score", tmp_path / "run", "-n", "50", "--json", *extra)[1])
        for extra in ((), ("--device", "cpu"))
    ]
    assert scores[0] == scores[1] and scores[0]["fid"] > 0  # auto is the CPU here, and --device cpu the same numbers


# -- Family.device / Family.to ----------------------------------------------------------


def test_family_device_and_to_move_networks_and_optimizer_state():
    family = build("vae")
    assert family.device == torch.device("cpu") and family.to("cpu") is family
    x, y = batch(family)
    family.train_step(x, y, torch.Generator().manual_seed(0))  # Adam state now exists
    family.device_types = ("cpu", "meta")  # "meta" stands in for a second device on a CPU-only machine
    family.to("meta")
    assert family.device == torch.device("meta")
    assert all(p.device.type == "meta" for net in family.nets.values() for p in net.parameters())
    state = family.opts["adam"].state
    assert state and all(
        s["exp_avg"].device.type == "meta" and s["exp_avg_sq"].device.type == "meta" for s in state.values()
    )
    assert all(s["step"].device.type == "cpu" for s in state.values())  # torch keeps Adam's step counter on the CPU


@pytest.mark.parametrize("name", CPU_ONLY_FAMILIES)
def test_numpy_families_stay_on_the_cpu(name):
    family = build(name)
    assert family.to("cpu").device == torch.device("cpu")
    with pytest.raises(ConfigError, match=f"{name} runs on cpu only"):
        family.to("cuda")


def test_auto_puts_a_cpu_only_family_on_the_cpu_even_beside_a_gpu(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device_for("auto", ("cpu",)) == torch.device("cpu")
    assert resolve_device_for("auto", ("cpu", "cuda")) == resolve_device_for("cuda", ("cpu",)) == torch.device("cuda")
    for name in CPU_ONLY_FAMILIES:  # trains, with "auto", where it can
        train(tiny_run(name, steps=2), tmp_path / name, quiet=True, device="auto")
        assert yaml.safe_load((tmp_path / name / "config.yaml").read_text())["versions"]["device"] == "cpu"


# -- the key check: no tensor of ours assumes the CPU -------------------------------------


@pytest.mark.parametrize(
    "name, overrides",
    [(n, {}) for n in GPU_FAMILIES] + VARIANTS,
    ids=lambda v: v if isinstance(v, str) else ",".join(v) or "tiny",
)
def test_train_step_and_sample_make_no_tensor_on_the_default_device(name, overrides):
    family = build(name, **overrides)
    x, y = batch(family)
    labels = torch.arange(3) % 10
    with torch.device("meta"):  # any tensor made without an explicit device lands here, and then fails
        metrics = family.train_step(x, y, torch.Generator().manual_seed(0))
        images = family.sample(
            3, labels=labels if family.conditional else None, generator=torch.Generator().manual_seed(1)
        )
    assert metrics and all(np.isfinite(v) for v in metrics.values())
    assert images.device.type == "cpu" and images.shape[0] == 3 and torch.isfinite(images).all()


def test_the_key_check_catches_a_tensor_made_on_the_default_device(monkeypatch):
    """The check above fails on the bug it is for: a family drawing noise without a device."""
    family = build("vae")
    monkeypatch.setattr(
        "genlab.models.vae.randn", lambda shape, generator, device: torch.randn(tuple(shape), generator=generator)
    )
    with torch.device("meta"), pytest.raises((RuntimeError, NotImplementedError)):
        family.sample(3, generator=torch.Generator().manual_seed(1))


# -- the trainer and the CLI on --device cpu ---------------------------------------------


def tiny_run(name, steps=4):
    spec = get_family(name)
    tc = TrainConfig(
        dataset=spec.dataset, steps=steps, batch_size=16, log_every=2, sample_every=2, checkpoint_every=2, grid_size=4
    )
    return RunConfig(name, spec.config_cls(**spec.tiny), tc)


def checkpoint_tensors(run_dir):
    state, meta = load_checkpoint(find_checkpoint(run_dir))
    flat = {}

    def walk(x, path):
        if isinstance(x, torch.Tensor):
            flat[path] = x
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{path}/{k}")
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                walk(v, f"{path}/{i}")

    walk(state, "")
    return flat, meta


@pytest.mark.parametrize("name", ["gan", "ddpm"])
def test_device_cpu_is_the_default_path_bit_for_bit_and_resumes_bit_exactly(name, tmp_path):
    train(tiny_run(name), tmp_path / "default", quiet=True)
    train(tiny_run(name), tmp_path / "cpu", quiet=True, device="cpu")
    first = train(tiny_run(name), tmp_path / "split", quiet=True, device="cpu", stop_at=2)
    assert first.interrupted and first.step == 2
    train(None, tmp_path / "split", resume=True, quiet=True, device="cpu")
    (a, meta_a), (b, meta_b), (c, _) = (checkpoint_tensors(tmp_path / d) for d in ("default", "cpu", "split"))
    assert meta_a["step"] == 4 and a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) and torch.equal(a[k], c[k]) for k in a)
    assert meta_b["versions"]["device"] == "cpu"
    assert yaml.safe_load((tmp_path / "cpu" / "config.yaml").read_text())["versions"]["device"] == "cpu"


def test_train_rejects_a_missing_device_before_writing_anything(monkeypatch, tmp_path):
    no_device(monkeypatch)
    with pytest.raises(ConfigError, match="no CUDA device"):
        train(tiny_run("gan"), tmp_path / "run", quiet=True, device="cuda")
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("device") / "gan"
    train(tiny_run("gan", steps=2), run_dir, quiet=True)
    return run_dir


def test_load_family_puts_the_family_on_the_device(trained):
    family, _, _ = load_family(trained, device="cpu")
    assert family.device == torch.device("cpu")
    with pytest.raises(ConfigError, match="unknown device"):
        load_family(trained, device="gpu")


def test_cli_sample_on_cpu_matches_the_default_and_a_missing_gpu_is_one_line(trained, monkeypatch, tmp_path, capsys):
    no_device(monkeypatch)
    code, out, _ = run(capsys, "sample", trained, "-n", "5", "-o", tmp_path / "cpu.npz", "--device", "cpu")
    assert code == 0 and "wrote 5 samples" in out
    assert run(capsys, "sample", trained, "-n", "5", "-o", tmp_path / "auto.npz")[0] == 0  # auto: the CPU here
    assert np.array_equal(np.load(tmp_path / "cpu.npz")["images"], np.load(tmp_path / "auto.npz")["images"])
    code, _, err = run(capsys, "sample", trained, "-n", "5", "-o", tmp_path / "gpu.npz", "--device", "cuda")
    one_line_error(code, err, "--device cuda", "no CUDA device")
    assert not (tmp_path / "gpu.npz").exists()
