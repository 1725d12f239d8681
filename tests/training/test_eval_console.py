"""The in-training evaluation (eval_every) says its FID and class coverage, and warns when one class takes over."""

from genlab.config import TrainConfig
from genlab.models.registry import get_family
from genlab.runs import RunConfig, read_metrics
from genlab.training import train


def evaluate_as(histogram):
    """A stand-in evaluator (the real one is tested in tests/eval): fixed scores, the given class histogram."""

    def evaluate(images, labels):
        return {
            "n": len(images),
            "extractor": "digits",
            "fid": 123.4,
            "modes_covered": 2,
            "class_histogram": histogram,
        }

    return evaluate


def run_with(tmp_path, histogram, capsys):
    spec = get_family("vae")
    tc = TrainConfig(steps=4, batch_size=16, log_every=2, sample_every=4, eval_every=2, eval_samples=10, grid_size=4)
    train(RunConfig("vae", spec.config_cls(**spec.tiny), tc), tmp_path / "run", evaluate=evaluate_as(histogram))
    return capsys.readouterr().err, read_metrics(tmp_path / "run")


def test_fid_and_coverage_on_the_console(tmp_path, capsys):
    err, records = run_with(tmp_path, [5, 5, 0, 0, 0, 0, 0, 0, 0, 0], capsys)
    assert "eval at step 2: FID 123.40 (n=10, digits extractor), classes covered 2/10" in err
    assert "warning" not in err  # 50 % is not more than half
    assert [r["eval_fid"] for r in records if "eval_fid" in r] == [123.4, 123.4]


def test_one_class_over_half_is_a_warning_in_the_log_too(tmp_path, capsys):
    err, records = run_with(tmp_path, [9, 1, 0, 0, 0, 0, 0, 0, 0, 0], capsys)
    assert "class 0 takes 90% of the 10 evaluation samples" in " ".join(err.split())
    warnings = [r for r in records if "warning" in r]
    assert [r["step"] for r in warnings] == [2, 4] and "collapsing" in warnings[0]["warning"]
