"""The notebooks run top to bottom at tiny size (GENLAB_TINY=1) and match their generator, notebooks/build.py."""

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def load_builder():
    spec = importlib.util.spec_from_file_location("notebook_build", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_notebooks_are_what_build_py_writes_without_outputs():
    builder = load_builder()
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(builder.NOTEBOOKS)
    for name in builder.NOTEBOOKS:
        committed = (NOTEBOOKS / name).read_text(encoding="utf-8")
        assert committed == nbformat.writes(builder.make(name)) + "\n", (
            f"{name} is stale: run python notebooks/build.py"
        )
        nb = nbformat.reads(committed, as_version=4)
        assert all(
            not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"
        )
        assert "parameters" in nb.cells[1].metadata.get("tags", [])


@pytest.mark.parametrize("name", ["gan_basics.ipynb", "vae_latent_space.ipynb", "diffusion_sampling.ipynb"])
def test_notebook_runs_top_to_bottom_at_tiny_size(name, tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_TINY", "1")
    monkeypatch.setenv("GENLAB_NOTEBOOK_OUT", str(tmp_path / "runs"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # kernel "python3": jupyter_client starts it with this interpreter (sys.executable), i.e. the venv's python.
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not any(o.output_type == "error" for o in c.outputs) for c in code)
    assert code[0].outputs[0].text.startswith("tiny")
    assert (tmp_path / "runs").is_dir() and any((tmp_path / "runs").iterdir())
