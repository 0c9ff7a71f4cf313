"""One exit-code convention for ``streameval evaluate`` and ``streameval watch``: each code is
checked by running the commands (as the shell runs them: a subprocess), and the convention is the
one the --help epilogs and docs/cli.md print."""

import json
import os
import re
import subprocess
import sys

import pytest

from streameval._command import EXIT_STATUS_HELP, ExitCode

pytest.importorskip("pyarrow")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs", "cli.md")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run(*args, stdin=""):
    """``python -m streameval ...``: (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "streameval", *map(str, args)], input=stdin.encode(),
                          capture_output=True, timeout=120, env=_env())
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def lines(*records):
    return "".join(json.dumps(r) + "\n" for r in records)


def test_the_codes_are_the_documented_ones():
    assert [(c.name, int(c)) for c in ExitCode] == [("OK", 0), ("FAILED", 1), ("USAGE", 2), ("ALERT", 3)]
    with open(DOCS, encoding="utf-8") as f:
        docs = f.read()
    table = docs[docs.index("## Exit codes of every command"):]
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \| `{code.name}` \| \S", table, re.M), code
    for code in ExitCode:
        assert re.search(rf"^  {int(code)}  \S", EXIT_STATUS_HELP, re.M), code


@pytest.mark.parametrize("command", ["evaluate", "watch"])
def test_each_help_ends_with_the_convention(command):
    code, out, _ = run(command, "--help")
    assert code == ExitCode.OK
    assert " ".join(EXIT_STATUS_HELP.split()) in " ".join(out.split())


def test_evaluate_exit_codes(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("y,p\n0,0\n1,1\n1,0\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("y,p\n0,0\n1,7\n")
    assert run("evaluate", good, "--y-true", "y", "--y-pred", "p")[0] == ExitCode.OK
    # bad data, a missing column, a missing file: FAILED, one line on stderr
    for args in [(bad, "--y-true", "y", "--y-pred", "p", "--labels", "0", "1"),
                 (good, "--y-true", "truth", "--y-pred", "p"),
                 (tmp_path / "absent.csv", "--y-true", "y", "--y-pred", "p")]:
        code, out, err = run("evaluate", *args)
        assert code == ExitCode.FAILED and out == "" and len(err.strip().splitlines()) == 1, err
    # usage: argparse's own errors, the checks argparse cannot make, no command at all
    for args in [("evaluate", good, "--y-true", "y"),
                 ("evaluate", good, "--y-true", "y", "--y-pred", "p", "--bins", "10"),
                 ("evaluate", good, "--y-true", "y", "--y-pred", "p", "--digits", "x"),
                 ()]:
        code, out, err = run(*args)
        assert code == ExitCode.USAGE and out == "", err


def test_watch_exit_codes(tmp_path):
    ok, miss = {"y_true": 1, "y_pred": 1}, {"y_true": 1, "y_pred": 0}
    assert run("watch", "--pos-label", "1", stdin=lines(ok, ok))[0] == ExitCode.OK
    code, _, err = run("watch", "--pos-label", "1", "--alert", "recall<0.8", stdin=lines(ok, miss, miss))
    assert code == ExitCode.ALERT and "alert TRIPPED" in err
    # malformed lines are counted, never a failure
    assert run("watch", "--pos-label", "1", stdin="not json\n" + lines(ok))[0] == ExitCode.OK
    code, _, err = run("watch", "--pos-label", "1", "--follow", tmp_path / "absent.jsonl")
    assert code == ExitCode.FAILED and len(err.strip().splitlines()) == 1
    for args in [(), ("--pos-label", "1", "--alert", "recal<0.8"), ("--pos-label", "1", "--window", "-1")]:
        code, out, err = run("watch", *args, stdin=lines(ok))
        assert code == ExitCode.USAGE and out == "", err


def test_main_returns_the_exit_code_in_process(tmp_path, capsys):
    """cli.main, as the console script calls it, returns ExitCode members (ints)."""
    from streameval import cli

    good = tmp_path / "good.csv"
    good.write_text("y,p\n0,0\n1,1\n")
    code = cli.main(["evaluate", str(good), "--y-true", "y", "--y-pred", "p", "--no-progress"])
    assert code is ExitCode.OK
    code = cli.main(["evaluate", str(good), "--y-true", "y", "--y-pred", "q", "--no-progress"])
    assert code is ExitCode.FAILED
    assert "no column 'q'" in capsys.readouterr().err
