"""Nothing executes or unpickles untrusted data.

A malicious pickle (unpickling it would create a marker file) placed where a checkpoint is
expected is refused in one line and the marker never appears; a scan of src/ fails the
suite if anything that can unpickle creeps in.
"""

import ast
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from cli_helpers import one_line_error, run
from reliability.helpers import tiny_run

import genlab
from genlab.errors import GenlabError
from genlab.runs.rundir import find_checkpoint
from genlab.training import train

SRC = Path(genlab.__file__).parent


class Marker:
    """Unpickling this creates the file at ``path``: a stand-in for running any code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sec") / "run"
    train(tiny_run("vae", steps=2, keep_last=1), folder, quiet=True)
    return folder


def test_the_marker_pickle_really_runs_code_when_unpickled(tmp_path):
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(Marker(marker)))  # what an unsafe loader would do
    assert marker.exists()


@pytest.mark.parametrize("replace", ["json", "safetensors", "both"])
@pytest.mark.parametrize("command", ["sample", "resume"])
def test_a_pickle_where_a_checkpoint_should_be_is_refused(replace, command, run_dir, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    marker = tmp_path / "ran"
    ckpt = find_checkpoint(copy)
    evil = pickle.dumps({"family": Marker(marker)})
    for suffix in {"json": [".json"], "safetensors": [".safetensors"], "both": [".json", ".safetensors"]}[replace]:
        ckpt.with_suffix(suffix).write_bytes(evil)
    if command == "sample":
        code, _, err = run(capsys, "sample", copy, "-n", "2", "-o", tmp_path / "s.npz")
    else:
        code, _, err = run(capsys, "train", "--resume", copy, "--steps", "3", "-q")
    one_line_error(code, err, "checkpoint")
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on our protocol-4 pickle
def test_a_pickled_torch_file_is_refused_by_the_extractor_weights_loader(tmp_path):
    """The one torch.load in genlab (converting the Inception weights once) uses weights_only=True."""
    from genlab.eval.weights import read_pth_tensors as load_tensors

    marker = tmp_path / "ran"
    path = tmp_path / "weights.pt"
    with open(path, "wb") as f:
        pickle.dump({"conv.weight": Marker(marker)}, f)
    with pytest.raises(GenlabError):
        load_tensors(path)
    assert not marker.exists()
    torch.save({"conv.weight": torch.ones(2)}, tmp_path / "ok.pt")  # plain tensors still load
    assert torch.equal(load_tensors(tmp_path / "ok.pt")["conv.weight"], torch.ones(2))


def _unsafe_calls(tree: ast.AST) -> list[str]:
    """Calls that could unpickle or execute data: torch.load without weights_only=True,
    allow_pickle=True anywhere, pickle/dill/joblib/marshal/shelve loaders, yaml.load/unsafe_load."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            )
            found += [
                f"import {n}"
                for n in names
                if n.split(".")[0] in ("pickle", "dill", "joblib", "marshal", "shelve", "cloudpickle")
            ]
        if not isinstance(node, ast.Call):
            continue
        func = ast.unparse(node.func)
        kwargs = {k.arg: k.value for k in node.keywords}
        flag = lambda name: isinstance(kwargs.get(name), ast.Constant) and kwargs[name].value is True  # noqa: E731
        if func.endswith("torch.load") or func == "load" and "weights_only" in kwargs:
            if not flag("weights_only"):
                found.append(f"{func}(...) without weights_only=True")
        if "allow_pickle" in kwargs and not (
            isinstance(kwargs["allow_pickle"], ast.Constant) and kwargs["allow_pickle"].value is False
        ):
            found.append(f"{func}(..., allow_pickle={ast.unparse(kwargs['allow_pickle'])})")
        if func in ("yaml.load", "yaml.unsafe_load", "yaml.full_load", "yaml.load_all", "yaml.unsafe_load_all"):
            found.append(f"{func}(...)")
        if func in ("eval", "exec"):
            found.append(f"{func}(...)")
    return found


def test_scan_finds_each_unsafe_pattern():
    """The scanner itself: it flags every pattern it is meant to flag, and not the safe spellings."""
    bad = (
        "import pickle\ntorch.load(p)\ntorch.load(p, weights_only=False)\nnp.load(p, "
        "allow_pickle=True)\nyaml.load(s)\neval(s)\n"
    )
    assert len(_unsafe_calls(ast.parse(bad))) == 6
    good = "torch.load(p, map_location='cpu', weights_only=True)\nnp.load(p, allow_pickle=False)\nyaml.safe_load(s)\n"
    assert _unsafe_calls(ast.parse(good)) == []


def test_no_source_file_can_unpickle_or_execute_data():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 50
    problems = [
        f"{path.relative_to(SRC)}: {what}"
        for path in files
        for what in _unsafe_calls(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert problems == []
    # The plain-text rule as well, so a call hidden from the AST walk (a string, a comment) shows up too.
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "allow_pickle=True" not in text, path
        for line in text.splitlines():
            if "torch.load(" in line:
                assert "weights_only=True" in line, f"{path}: {line.strip()}"
