"""``genlab bench latency``: structure of the measurements and the page they are written to."""

import json

import pytest
from cli_helpers import one_line_error, run

from genlab.bench.deploy_report import store, write_deploy
from genlab.bench.latency import bench_run, percentiles

# Exports, tiny trainings and subprocesses: minutes on a loaded 2-core machine.
pytestmark = pytest.mark.timeout(900)

pytest.importorskip("onnxruntime")


def test_percentiles_of_known_times():
    assert percentiles([i / 1000 for i in range(1, 101)]) == {"p50_ms": 50.5, "p95_ms": 95.05, "p99_ms": 99.01}


def test_bench_run_measures_each_runtime_in_its_own_worker(tiny_run, tmp_path):
    result = bench_run(
        tiny_run("dcgan"),
        runtimes=("pytorch", "onnx-int8"),
        threads=(1,),
        calls=5,
        warmup=1,
        batches=(1, 4),
        seconds_per_batch=0.01,
    )
    assert result["family"] == "dcgan" and result["graph"] == "generator" and result["baseline_rss_mb"] > 0
    for name in ("pytorch", "onnx-int8"):
        r = result["runtimes"][name]
        t = r["threads"]["1"]
        assert 0 < t["p50_ms"] <= t["p95_ms"] <= t["p99_ms"] and t["calls"] == 5
        assert set(t["images_per_s"]) == {"1", "4"} and min(t["images_per_s"].values()) > 0
        assert r["model_mb"] > 0
    doc = tmp_path / "deploy.md"
    entry = {
        "command": "genlab bench latency",
        "machine": {"date": "d", "cores": 2, "cpu": "x", "torch": "t", "load_average": [1, 2, 3]},
        "result": result,
    }
    write_deploy(doc, store(doc.with_suffix(".json"), "latency", "dcgan", entry))
    text = doc.read_text()
    assert "| ONNX Runtime INT8 | 1 |" in text and "upper bound" in text
    assert json.loads(doc.with_suffix(".json").read_text())["latency"]["dcgan"]["result"] == result


def test_too_few_calls_and_unknown_runtimes_are_one_line(capsys, tiny_run):
    code, _, err = run(capsys, "bench", "latency", tiny_run("gan"), "--calls", 10)
    one_line_error(code, err, "--calls must be >= 200")
    code, _, err = run(capsys, "bench", "latency", tiny_run("gan"), "--runtimes", "tensorrt")
    one_line_error(code, err, "--runtimes")
