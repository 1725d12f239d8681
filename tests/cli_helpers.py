"""Helpers shared by the CLI tests: run `genlab` in-process and check the one-line error rule."""

from genlab.cli import main


def run(capsys, *argv):
    """(exit code, stdout, stderr) of ``genlab ARGV``; arguments may be paths."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(code, err, *words):
    """Bad input: exit status 2 and one ``genlab: error:`` line on stderr naming the problem."""
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("genlab: error:") and "Traceback" not in err, err
    assert all(w in lines[0] for w in words), lines[0]


def recording_progress(monkeypatch) -> list:
    """(stage, images done) at each update of the command's progress (whether a line prints depends on the clock:
    tests/test_console.py tests the lines)."""
    import genlab.cli.eval_model as cli_eval

    seen = []

    class Recording(cli_eval.Progress):
        def update(self, completed=None, **kw):
            seen.append((self.description, completed))
            return super().update(completed, **kw)

    monkeypatch.setattr(cli_eval, "Progress", Recording)
    return seen
