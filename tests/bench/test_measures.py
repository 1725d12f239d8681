"""Profiles, scaling, the quality bar and the machine stamp on tiny inputs."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from genlab.bench.machine import best_seconds, machine_info, matmul_flops
from genlab.bench.profiling import profile_step, random_batch, step_time_grid
from genlab.bench.quality import quality_bar
from genlab.data import DataInfo


def test_machine_stamp_names_cores_threads_torch_and_load():
    m = machine_info()
    assert m["cores"] >= 1 and m["threads"] == torch.get_num_threads() and m["torch"] == torch.__version__
    assert len(m["load_average"]) == 3


def test_best_seconds_is_the_fastest_call():
    calls = []
    assert best_seconds(lambda: calls.append(1), 4) >= 0 and len(calls) == 5  # one warm-up


def test_matmul_rate_is_2n3_over_the_time():
    assert 1e6 < matmul_flops(64, repeats=2) < 1e14


def test_flop_counter_counts_a_linear_layer_as_2_b_in_out():
    # The counter behind profile_step, against the closed form for one forward matmul.
    with FlopCounterMode(display=False) as counter:
        nn.Linear(30, 20, bias=False)(torch.ones(8, 30))
    assert counter.get_total_flops() == 2 * 8 * 30 * 20


def test_random_batch_respects_the_scale():
    x, y = random_batch(DataInfo(1, 8, 8, 10), 5, "0,1")
    assert x.shape == (5, 1, 8, 8) and 0 <= x.min() and x.max() <= 1 and y.shape == (5,)


def test_profile_reports_flops_top_ops_and_the_fraction_of_peak():
    p = profile_step("vae", DataInfo(1, 8, 8, 10), preset=None, batch_size=8, peak_flops=1e9)
    assert p["gflop_per_step"] > 0 and len(p["top_ops"]) == 6
    assert p["fraction_of_matmul_peak"] == pytest.approx(p["gflop_per_s"] * 1e9 / 1e9)
    assert sum(o["share"] for o in p["top_ops"]) <= 1.0 + 1e-9


def test_step_time_grid_marks_sizes_an_architecture_cannot_make():
    fixed = step_time_grid("numpy-gan", batch_sizes=(4,), image_sizes=(28, 32), batch_for_sizes=4, preset=None)
    assert fixed["ms_by_size"][32] is None and fixed["ms_by_size"][28] > 0
    free = step_time_grid("vae", batch_sizes=(4, 8), image_sizes=(32,), batch_for_sizes=4, preset=None)
    assert free["ms_by_size"][32] > 0 and set(free["ms_by_batch"]) == {4, 8}


def one_hot_probs(classes, confidence):
    k = 10
    p = np.full((len(classes), k), (1 - confidence) / (k - 1))
    p[np.arange(len(classes)), classes] = confidence
    return p


def test_quality_bar_needs_every_class_and_confident_samples():
    balanced = np.arange(1000) % 10
    assert quality_bar(one_hot_probs(balanced, 0.95))["met"]
    low = quality_bar(one_hot_probs(balanced, 0.5))
    assert not low["met"] and low["confident_fraction"] == 0.0
    missing = quality_bar(one_hot_probs(np.where(balanced == 3, 4, balanced), 0.95))
    assert not missing["met"] and missing["smallest_class_fraction"] == 0.0
    # 2 % exactly is enough: 20 of 1000 in class 0.
    classes = np.concatenate([np.zeros(20, int), 1 + np.arange(980) % 9])
    assert quality_bar(one_hot_probs(classes, 0.95))["smallest_class_fraction"] == pytest.approx(0.02)
    assert quality_bar(one_hot_probs(classes, 0.95))["met"]
