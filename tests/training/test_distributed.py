"""Data-parallel training: 2 processes (torchrun, gloo) take the same steps as 1 process.

The launch test starts real processes through ``genlab train --nproc 2`` (torchrun's own
entry point), so it needs no mocking: loss curve, weights, rank-0-only output and resume.
"""

import json

import pytest
import torch
import torch.nn.functional as F
from cli_helpers import one_line_error, run

from genlab.runs import read_metrics
from genlab.runs.checkpoint import load_checkpoint, weights_hash
from genlab.training.distributed import Replicas, ShardedRandomness

TIMING = {"images_per_s", "step_s", "elapsed_s", "peak_rss_mb"}


def draws(generator: torch.Generator, n: int) -> list[torch.Tensor]:
    """Every kind of random call a family makes for a batch of n, plus one that is not per image."""
    return [
        torch.randn(n, 3, generator=generator),
        torch.randn((n, 2, 4, 4), generator=generator),
        torch.randn(size=(n, 33), generator=generator),
        torch.rand(n, generator=generator),
        torch.randint(0, 50, (n,), generator=generator),
        torch.bernoulli(torch.full((n, 5), 0.3), generator=generator),
        F.dropout(torch.ones(n, 40), 0.5, True),  # torch's global generator
        torch.empty(n, 7).normal_(generator=generator),
        torch.randn(3, generator=generator),  # not per image: drawn whole on every rank
    ]


@pytest.mark.parametrize("rank", [0, 1, 2])
def test_sharded_randomness_gives_each_rank_its_rows_of_the_single_process_draw(rank):
    torch.manual_seed(0)
    single = draws(torch.Generator().manual_seed(1), 12)
    torch.manual_seed(0)
    with ShardedRandomness(rows=4, rank=rank, world=3):
        mine = draws(torch.Generator().manual_seed(1), 4)
    for whole, part in zip(single[:-1], mine[:-1]):
        assert torch.equal(part, whole[4 * rank : 4 * rank + 4])
    assert torch.equal(mine[-1], single[-1])
    assert not torch.equal(mine[0], single[0][:4]) or rank == 0  # really a different slice per rank


def test_sharded_dropout_keeps_gradients_flowing():
    x = torch.ones(4, 6, requires_grad=True)
    with ShardedRandomness(rows=4, rank=1, world=2):
        y = F.dropout(x, 0.5, True)
    y.sum().backward()
    assert x.grad is not None and set(x.grad.unique().tolist()) <= {0.0, 2.0}


def test_a_single_process_is_its_own_only_replica():
    replicas = Replicas()
    assert (replicas.world, replicas.rank, replicas.is_main) == (1, 0, True)
    assert replicas.any(True) and not replicas.any(False)
    assert replicas.mean_metrics({"loss": 1.5}) == {"loss": 1.5} and replicas.checkpoint_meta(None) == {}


def losses(run_dir):
    return [(r["step"], r["loss_d"], r["loss_g"]) for r in read_metrics(run_dir) if "loss_d" in r]


def test_two_processes_match_one_process_and_resume(tmp_path, capsys):
    """gan (tiny): dropout, two networks and two optimisers; global batch 16 = 2 x 8."""
    common = [
        "--set",
        "z_dim=4",
        "--set",
        "hidden=8",
        "--batch-size",
        "16",
        "--set",
        "log_every=1",
        "--set",
        "checkpoint_every=3",
        "--set",
        "sample_every=3",
        "--set",
        "grid_size=4",
        "-q",
    ]
    code, _, err = run(capsys, "train", "gan", "--steps", "6", "--out", tmp_path / "one", *common)
    assert code == 0, err
    code, _, err = run(capsys, "train", "gan", "--steps", "3", "--out", tmp_path / "two", "--nproc", "2", *common)
    assert code == 0, err
    code, _, err = run(capsys, "train", "--resume", tmp_path / "two", "--steps", "6", "--nproc", "2", "-q")
    assert code == 0, err

    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert [s for s, *_ in two] == list(range(1, 7))  # the resumed run logs steps 4..6 after 1..3
    assert torch.allclose(
        torch.tensor([loss for _, *loss in one]), torch.tensor([loss for _, *loss in two]), rtol=1e-4, atol=1e-5
    )

    state_one, _ = load_checkpoint(tmp_path / "one" / "checkpoints" / "step_00000006.json")
    state_two, meta = load_checkpoint(tmp_path / "two" / "checkpoints" / "step_00000006.json")
    for net in state_one["family"]["nets"]:
        for name, w in state_one["family"]["nets"][net].items():
            assert torch.allclose(w, state_two["family"]["nets"][net][name], rtol=1e-4, atol=1e-5), (net, name)
    # Every rank held the weights rank 0 saved.
    assert meta["world_size"] == 2
    assert meta["replica_weights"] == [weights_hash(state_two["family"]["nets"])] * 2
    # Rank 0 alone wrote: one metrics line per step and log, one grid per sample step.
    assert sorted(p.name for p in (tmp_path / "two" / "samples").iterdir()) == [
        "step_00000003.png",
        "step_00000006.png",
    ]
    assert json.loads((tmp_path / "two" / "metrics.jsonl").read_text().splitlines()[0])["step"] == 1


def test_nproc_must_be_positive(capsys):
    code, _, err = run(capsys, "train", "gan", "--nproc", "0")
    one_line_error(code, err, "--nproc")
