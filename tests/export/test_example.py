"""examples/onnx_sample.py runs with torch and genlab unimportable and draws what `genlab sample` draws.

The example gets the very noise `genlab sample --seed S` draws (saved as .npy: the first
torch.randn of a generator seeded S, which is where sample_in_batches starts), so both sides
see identical inputs; their uint8 images must then agree up to float rounding.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import run

from genlab.data import load_samples

# Exports, tiny trainings and subprocesses: minutes on a loaded 2-core machine.
pytestmark = pytest.mark.timeout(900)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "onnx_sample.py"

# Inserted before anything else runs: `import torch` / `import genlab` (and their submodules) fail.
NO_TORCH = """
import importlib.abc, runpy, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "genlab"):
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, Block())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_example(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no path to genlab's sources either
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(EXAMPLE), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_blocker_blocks(tmp_path):
    script = tmp_path / "t.py"
    script.write_text("import torch\n")
    done = subprocess.run([sys.executable, "-c", NO_TORCH, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "torch is blocked" in done.stderr


def genlab_noise(n, shape, seed):
    """The first draw of `genlab sample --seed seed`: torch.randn((n, *shape)) from a generator seeded seed."""
    return torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed)).numpy()


@pytest.mark.parametrize("name, n", [("cdcgan", 20), ("ddpm", 6)])
def test_example_draws_what_genlab_sample_draws(name, n, capsys, tiny_run, tmp_path):
    run_dir = tiny_run(name)
    assert run(capsys, "export", run_dir, "-o", tmp_path / "export")[0] == 0
    code, _, _ = run(capsys, "sample", run_dir, "-n", n, "--seed", 5, "-o", tmp_path / "genlab.npz", "--device", "cpu")
    assert code == 0
    want, want_labels = load_samples(tmp_path / "genlab.npz")
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    graph = manifest["graphs"]["denoiser" if name == "ddpm" else "generator"]
    shape = tuple(graph["inputs"][0]["shape"][1:])  # x_T (C, H, W) or z (z_dim,)
    np.save(tmp_path / "noise.npy", genlab_noise(n, shape, 5))
    done = run_example(tmp_path / "export", "--noise", tmp_path / "noise.npy", "-o", "onnx.npz", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    got = np.load(tmp_path / "onnx.npz")
    assert got["images"].shape == want.shape and got["images"].dtype == np.uint8
    assert np.array_equal(got["labels"], want_labels)
    diff = np.abs(got["images"].astype(int) - want.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01  # float rounding can flip a pixel's last step
    assert want.std() > 2  # images that vary (std 4.9 measured for cdcgan): the comparison can fail


def test_ddim_loop_runs_the_manifests_fifty_steps(capsys, tiny_run, tmp_path):
    export_dir = tmp_path / "export"
    assert run(capsys, "export", tiny_run("ddpm"), "-o", export_dir)[0] == 0
    spec = importlib.util.spec_from_file_location("onnx_sample", EXAMPLE)
    onnx_sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(onnx_sample)  # defines functions only: main() runs under __main__
    manifest = json.loads((export_dir / "manifest.json").read_text())
    assert onnx_sample.ddim_steps(100, 50) == manifest["diffusion"]["timesteps"]  # the example's spacing is genlab's


@pytest.mark.parametrize(
    "edit, words",
    [
        ("json", "not JSON"),
        ("alpha", "alpha_bar"),
        ("shape", "valid name, dtype and shape"),
        ("sha", "sha256"),
    ],
)
def test_example_refuses_a_hand_edited_manifest_in_one_line(edit, words, capsys, tiny_run, tmp_path):
    export_dir = tmp_path / "export"
    assert run(capsys, "export", tiny_run("ddpm"), "-o", export_dir)[0] == 0
    path = export_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    if edit == "json":
        path.write_text(path.read_text()[:-20])
    else:
        if edit == "alpha":
            manifest["diffusion"]["alpha_bar"] = manifest["diffusion"]["alpha_bar"][:10]
        elif edit == "shape":
            manifest["graphs"]["denoiser"]["inputs"][0]["shape"] = "28x28"
        else:
            manifest["graphs"]["denoiser"]["sha256"] = "0" * 64
        path.write_text(json.dumps(manifest))
    done = run_example(export_dir, "-o", "x.npz", cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("onnx_sample: error:"), done.stderr
    assert words in lines[0] and not (tmp_path / "x.npz").exists()
