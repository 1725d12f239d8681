"""The in-training evaluation (eval_every) says its FID and class coverage, and warns when one class takes over."""

from genlab.config import TrainConfig
from genlab.models.registry import get_family
from genlab.runs import RunConfig, read_metrics
from genlab.training import train


def evaluate_as(histogram, **scores):
    """A stand-in evaluator (the real one is tested in tests/eval): fixed scores, the given class histogram."""

    def evaluate(images, labels):
        return {
            "n": len(images),
            "extractor": "digits",
            "fid": 123.4,
            "modes_covered": 2,
            "class_histogram": histogram,
            **scores,
        }

    return evaluate


def run_with(tmp_path, histogram, capsys, family="vae", **scores):
    spec = get_family(family)
    tc = TrainConfig(steps=4, batch_size=16, log_every=2, sample_every=4, eval_every=2, eval_samples=10, grid_size=4)
    run = RunConfig(family, spec.config_cls(**spec.tiny), tc)
    train(run, tmp_path / "run", evaluate=evaluate_as(histogram, **scores))
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


def test_a_gan_with_low_recall_is_told_the_options_that_fix_collapse(tmp_path, capsys):
    err, records = run_with(tmp_path, [1] * 10, capsys, family="gan", recall=0.01)
    said = " ".join(err.split())
    assert "recall 0.010 is below 0.1" in said and "--set r1=10 --set ema=0.999" in said
    assert [r["step"] for r in records if "warning" in r] == [2, 4]


def test_low_recall_is_not_a_collapse_sign_for_a_vae(tmp_path, capsys):
    err, records = run_with(tmp_path, [1] * 10, capsys, recall=0.01)
    assert "warning" not in err and not [r for r in records if "warning" in r]
