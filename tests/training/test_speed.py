"""TrainConfig's speed options: precision=bfloat16, channels_last, fused_optimizer (genlab.training.speed)."""

import pytest
import torch
from reliability.helpers import same_tensors, tiny_run

from genlab.config import TrainConfig
from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.registry import get_family
from genlab.runs import read_metrics
from genlab.runs.checkpoint import load_checkpoint
from genlab.runs.rundir import find_checkpoint
from genlab.training import speed, train

FAST = {"precision": "bfloat16", "channels_last": True, "fused_optimizer": True, "steps": 6, "log_every": 1}
PLAIN = {"steps": 6, "log_every": 1}


def losses(run_dir, key):
    return [r[key] for r in read_metrics(run_dir) if key in r]


def test_step_context_is_bfloat16_autocast_without_the_weight_cache():
    w = torch.randn(4, 4)
    with speed.step_context("bfloat16"):
        out = torch.randn(2, 4) @ w
        assert out.dtype == torch.bfloat16
        assert not torch.is_autocast_cache_enabled()
    with speed.step_context("float32"):
        assert (torch.randn(2, 4) @ w).dtype == torch.float32


def test_prepare_lays_out_weights_and_optimiser_state_channels_last_and_fuses_adam():
    spec = get_family("dcgan")
    family = spec.family_cls(spec.config_cls(**spec.tiny), DataInfo(1, 28, 28, 10))
    conv = next(p for net in family.nets.values() for p in net.parameters() if p.dim() == 4)
    opt = next(o for o in family.opts.values() if any(p is conv for g in o.param_groups for p in g["params"]))
    opt.state[conv]["exp_avg"] = torch.zeros_like(conv).contiguous()  # as a checkpoint loads it
    speed.prepare(family, channels_last=True, fused_optimizer=True)
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert opt.state[conv]["exp_avg"].stride() == conv.stride()
    assert all(g["fused"] and not g["foreach"] for o in family.opts.values() for g in o.param_groups)


@pytest.mark.parametrize("name", ["dcgan", "conv-vae", "ddpm"])
def test_fast_options_train_like_float32_within_bfloat16_rounding(name, tmp_path):
    key = "loss_d" if "gan" in name else "loss"
    train(tiny_run(name, **PLAIN), tmp_path / "fp32", quiet=True)
    train(tiny_run(name, **FAST), tmp_path / "fast", quiet=True)
    a, b = losses(tmp_path / "fp32", key), losses(tmp_path / "fast", key)
    assert len(a) == len(b) == 6
    assert a != b  # bfloat16 really ran: the losses differ ...
    assert max(abs(x - y) for x, y in zip(a, b)) <= 0.05 * max(abs(x) for x in a)  # ... by rounding only


def test_channels_last_and_fused_adam_alone_keep_float32_results_to_rounding(tmp_path):
    train(tiny_run("dcgan", **PLAIN), tmp_path / "plain", quiet=True)
    train(tiny_run("dcgan", channels_last=True, fused_optimizer=True, **PLAIN), tmp_path / "laid", quiet=True)
    a, b = losses(tmp_path / "plain", "loss_d"), losses(tmp_path / "laid", "loss_d")
    assert max(abs(x - y) for x, y in zip(a, b)) <= 1e-4 * max(abs(x) for x in a)


def test_resume_with_every_speed_option_is_bit_exact(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(tiny_run("dcgan", **FAST), whole, quiet=True)
    assert train(tiny_run("dcgan", **FAST), split, quiet=True, stop_at=3).interrupted
    train(None, split, resume=True, quiet=True)
    assert same_tensors(load_checkpoint(find_checkpoint(whole))[0], load_checkpoint(find_checkpoint(split))[0])


def test_speed_options_on_a_numpy_family_are_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"speed options \(precision=bfloat16\) apply only to PyTorch families"):
        train(tiny_run("numpy-gan", precision="bfloat16"), tmp_path / "run", quiet=True)


def test_unknown_precision_is_rejected_by_the_config():
    from genlab.config import from_dict

    with pytest.raises(ConfigError, match="precision must be one of float32, bfloat16"):
        from_dict(TrainConfig, {"precision": "float16"})
