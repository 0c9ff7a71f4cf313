"""What ``streameval evaluate`` reads and prints (issue 12): compressed and delimited text, stdin,
Parquet directories and globs, --pos-label and boolean labels, the summary lines, the options and
their help, the progress bar and watch's live table on a terminal.

Every command runs as a subprocess on files written here; numbers are compared with scikit-learn on
the same data read by pandas. Terminal views run under a pseudo-terminal (the pty module)."""

import bz2
import fcntl
import gzip
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

import streameval

pa = pytest.importorskip("pyarrow")
import pyarrow.dataset as ds  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env(**extra):
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.pop("SHIM", None), ROOT, os.environ.get("PYTHONPATH")) if p)
    return env


def run(*args, stdin=b"", env=None):
    """``python -m streameval ...``: (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "streameval", *map(str, args)], input=stdin, capture_output=True,
                          timeout=120, env=env or _env())
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def json_out(*args, stdin=b""):
    code, out, err = run(*args, "--format", "json", stdin=stdin)
    assert code == 0, err
    return json.loads(out), err


def frame(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    names = np.array(["cat", "dog", "owl"])
    animal = rng.integers(0, 3, n)
    guess = np.where(rng.random(n) < 0.7, animal, rng.integers(0, 3, n))
    return pd.DataFrame({"y_true": y, "score": np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1).round(4),
                         "animal": names[animal], "guess": names[guess], "w": rng.random(n).round(3),
                         "diagnosis": np.where(y == 1, "malignant", "benign"),
                         "answer": np.where(y == 1, rng.choice(["yes", "Yes", "YES"], n), rng.choice(["no", "No"], n)),
                         "flag": y.astype(bool)})


def assert_labels_match(data, df, true="animal", pred="guess"):
    assert data["rows"] == len(df)
    assert data["accuracy"] == pytest.approx(skm.accuracy_score(df[true], df[pred]))
    expected = skm.classification_report(df[true], df[pred], output_dict=True)
    assert data["report"].keys() == expected.keys()
    for key, value in expected.items():
        assert data["report"][key] == (pytest.approx(value) if isinstance(value, float) else
                                       {k: pytest.approx(v) for k, v in value.items()}), key


# --- 1. compressed and delimited text, stdin -----------------------------------------------------------


def _write_compressed(path, text: bytes, codec: str):
    if codec == "gzip":  # two members, as `cat a.gz b.gz` makes: both are read
        path.write_bytes(gzip.compress(text[: len(text) // 2]) + gzip.compress(text[len(text) // 2:]))
    elif codec == "bz2":
        path.write_bytes(bz2.compress(text))
    else:
        with pa.CompressedOutputStream(str(path), codec) as out:
            out.write(text)


@pytest.mark.parametrize("name", ["p.csv.gz", "p.csv.zst", "p.csv.bz2", "p.jsonl.gz", "p.tsv", "p.tsv.gz"])
def test_compressed_and_tab_separated_files(tmp_path, name):
    df = frame()
    if ".jsonl" in name:
        text = df.to_json(orient="records", lines=True).encode()
    else:
        text = df.to_csv(index=False, sep="\t" if ".tsv" in name else ",").encode()
    codec = {".gz": "gzip", ".zst": "zstd", ".bz2": "bz2"}.get(os.path.splitext(name)[1])
    if codec:
        _write_compressed(tmp_path / name, text, codec)
    else:
        (tmp_path / name).write_bytes(text)
    data, _ = json_out("evaluate", tmp_path / name, "--y-true", "animal", "--y-pred", "guess")
    assert_labels_match(data, df)
    data, _ = json_out("evaluate", tmp_path / name, "--y-true", "y_true", "--score", "score", "--threshold", "0.6")
    assert data["metrics"]["f1"] == pytest.approx(skm.f1_score(df.y_true, df.score >= 0.6))


def test_stdin_plain_gzip_and_jsonl():
    df = frame(seed=1)
    csv = df.to_csv(index=False).encode()
    data, _ = json_out("evaluate", "-", "--y-true", "animal", "--y-pred", "guess", stdin=csv)
    assert_labels_match(data, df)
    assert data["files"] == ["-"]
    # compressed stdin is recognised by its first bytes, or named with --compression
    packed = gzip.compress(csv[:5000]) + gzip.compress(csv[5000:])
    for extra in ([], ["--compression", "gzip"]):
        data, _ = json_out("evaluate", "-", "--y-true", "animal", "--y-pred", "guess", *extra, stdin=packed)
        assert_labels_match(data, df)
    lines = gzip.compress(df.to_json(orient="records", lines=True).encode())
    data, _ = json_out("evaluate", "-", "--input-format", "jsonl", "--y-true", "animal", "--y-pred", "guess", stdin=lines)
    assert_labels_match(data, df)
    # a CSV whose header row holds a quoted newline, after empty lines: the header is found
    quoted = b'\n\n"y\ntrue",p\n' + b"".join(b"%d,%d\n" % (a, b) for a, b in zip(df.y_true, df.y_true[::-1]))
    data, _ = json_out("evaluate", "-", "--y-true", "y\ntrue", "--y-pred", "p", stdin=quoted)
    assert data["accuracy"] == pytest.approx(skm.accuracy_score(df.y_true, df.y_true[::-1]))


def test_delimiter_and_input_format(tmp_path):
    df = frame(seed=2)
    (tmp_path / "semi.csv").write_text(df.to_csv(index=False, sep=";"))
    data, _ = json_out("evaluate", tmp_path / "semi.csv", "--delimiter", ";", "--y-true", "animal", "--y-pred", "guess")
    assert_labels_match(data, df)
    (tmp_path / "data.txt").write_text(df.to_csv(index=False, sep="\t"))
    data, _ = json_out("evaluate", tmp_path / "data.txt", "--input-format", "csv", "--delimiter", r"\t",
                       "--y-true", "animal", "--y-pred", "guess")
    assert_labels_match(data, df)
    data, _ = json_out("evaluate", "-", "--input-format", "tsv", "--y-true", "animal", "--y-pred", "guess",
                       stdin=df.to_csv(index=False, sep="\t").encode())
    assert_labels_match(data, df)


def _one_error(code, err, expected=1):
    assert code == expected, err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_input_errors(tmp_path):
    df = frame(50)
    df.to_parquet(tmp_path / "p.parquet")
    args = ["--y-true", "animal", "--y-pred", "guess"]
    line = _one_error(*run("evaluate", "-", "--input-format", "parquet", *args, stdin=b"PAR1")[::2])
    assert line == "streameval evaluate: error: stdin: parquet input needs a file that can be read at any position: " \
                   "save it to a file"
    (tmp_path / "p.parquet.gz").write_bytes(gzip.compress((tmp_path / "p.parquet").read_bytes()))
    line = _one_error(*run("evaluate", tmp_path / "p.parquet.gz", *args)[::2])
    assert "p.parquet.gz: a compressed parquet file is not read" in line
    (tmp_path / "bad.csv.gz").write_bytes(b"\x1f\x8b" + b"not gzip at all" * 10)
    line = _one_error(*run("evaluate", tmp_path / "bad.csv.gz", *args)[::2])
    assert "bad.csv.gz: cannot read the file: " in line
    line = _one_error(*run("evaluate", tmp_path / "nothing-*.csv", *args)[::2])
    assert line.endswith("nothing-*.csv: no file matches the pattern")
    line = _one_error(*run("evaluate", tmp_path / "p.parquet", *args, "--delimiter", ";")[::2], 2)
    assert "--delimiter is for CSV and TSV inputs" in line
    line = _one_error(*run("evaluate", "-", *args, "--delimiter", "ab")[::2], 2)
    assert "--delimiter" in line and "one character" in line
    line = _one_error(*run("evaluate", "-", "-", *args)[::2], 2)
    assert "stdin" in line
    master, slave = pty.openpty()  # stdin a terminal: nothing was piped in, so say so instead of waiting
    try:
        done = subprocess.run([sys.executable, "-m", "streameval", "evaluate", "-", *args], stdin=slave,
                              capture_output=True, timeout=120, env=_env())
    finally:
        os.close(slave)
        os.close(master)
    line = _one_error(done.returncode, done.stderr.decode())
    assert line == "streameval evaluate: error: stdin is a terminal: pipe the data in (... | streameval evaluate - ...)"


# --- 2. Parquet directories and globs ---------------------------------------------------------------------


def test_hive_partitioned_directory(tmp_path):
    """pandas' partitioned write: the guess column lives only in the key=value directory names."""
    df = frame(seed=3)
    df.to_parquet(tmp_path / "ds", partition_cols=["guess"])
    (tmp_path / "ds" / "_SUCCESS").write_text("")
    (tmp_path / "ds" / ".part.crc").write_text("x")
    (tmp_path / "ds" / "notes.txt").write_text("not data")
    data, err = json_out("evaluate", tmp_path / "ds", "--y-true", "animal", "--y-pred", "guess")
    assert_labels_match(data, df)
    assert err.strip() == f"streameval: warning: {tmp_path / 'ds'}: skipped 1 file of unknown type (notes.txt); " \
                          "--input-format names their format"
    assert [os.path.relpath(f, tmp_path / "ds").split(os.sep)[0] for f in data["files"]] == \
        ["guess=cat", "guess=dog", "guess=owl"]  # path order


def test_dataset_written_by_pyarrow_and_globs(tmp_path):
    """pyarrow's write_dataset with hive partitions of an integer y_true, read as a directory and
    through globs (passed as one argument, unexpanded by any shell)."""
    df = frame(seed=4)
    ds.write_dataset(pa.Table.from_pandas(df[["y_true", "score", "w"]], preserve_index=False), tmp_path / "ds",
                     format="parquet", partitioning=["y_true"], partitioning_flavor="hive",
                     max_rows_per_file=400, max_rows_per_group=400)
    auc = skm.roc_auc_score(df.y_true, df.score)
    for inputs in ([tmp_path / "ds"], [tmp_path / "ds" / "*" / "*.parquet"], [f"{tmp_path}/**/*.parquet"],
                   [tmp_path / "ds" / "y_true=0", tmp_path / "ds" / "y_true=1"]):
        data, _ = json_out("evaluate", *inputs, "--y-true", "y_true", "--score", "score", "--bins", "200",
                           "--weight", "w")
        assert data["rows"] == len(df) and len(data["files"]) >= 4, inputs
        assert data["weight_total"] == pytest.approx(df.w.sum())
        assert data["accuracy"] == pytest.approx(skm.accuracy_score(df.y_true, df.score >= 0.5, sample_weight=df.w))
        lo, hi = data["roc_auc_bounds"]
        assert lo <= skm.roc_auc_score(df.y_true, df.score, sample_weight=df.w) <= hi and hi - lo < 0.01
    data, _ = json_out("evaluate", tmp_path / "ds", "--y-true", "y_true", "--score", "score", "--bins", "200")
    assert data["roc_auc_bounds"][0] <= auc <= data["roc_auc_bounds"][1]


def test_directory_of_csv_parts_and_error_positions(tmp_path):
    """A directory named like a file (as Spark writes out.csv/), parts read in path order; a bad row
    is named by its file within the directory."""
    df = frame(900, seed=5)
    out = tmp_path / "out.csv"
    out.mkdir()
    for i in range(3):
        df.iloc[300 * i: 300 * (i + 1)].to_csv(out / f"part-{i:05d}.csv", index=False)
    (out / "_SUCCESS").write_text("")
    data, err = json_out("evaluate", out, "--y-true", "animal", "--y-pred", "guess")
    assert_labels_match(data, df)
    assert err == ""
    broken = df.iloc[300:600].copy()
    broken.iloc[7, broken.columns.get_loc("guess")] = None
    broken.to_csv(out / "part-00001.csv", index=False)
    line = _one_error(*run("evaluate", out, "--y-true", "animal", "--y-pred", "guess")[::2])
    assert line.endswith(f"{out / 'part-00001.csv'}: row 8: column 'guess': empty (null)")


# --- 3. --pos-label and boolean labels -----------------------------------------------------------------------


def test_pos_label_with_text_labels(tmp_path):
    df = frame(seed=6)
    path = tmp_path / "p.csv"
    df.to_csv(path, index=False)
    data, _ = json_out("evaluate", path, "--y-true", "diagnosis", "--score", "score", "--pos-label", "malignant",
                       "--threshold", "0.55", "--bins", "100")
    pred = np.where(df.score >= 0.55, "malignant", "benign")
    for metric in ("precision", "recall", "f1"):
        expected = getattr(skm, f"{metric}_score")(df.diagnosis, pred, pos_label="malignant")
        assert data["metrics"][metric] == pytest.approx(expected), metric
    assert data["roc_auc_bounds"][0] <= skm.roc_auc_score(df.diagnosis == "malignant", df.score) <= data["roc_auc_bounds"][1]
    # a third label is not a binary task, even when it first comes in a later chunk or file
    more = tmp_path / "q.csv"
    df.assign(diagnosis=np.where(df.y_true == 1, "malignant", "unknown")).to_csv(more, index=False)
    line = _one_error(*run("evaluate", path, more, "--y-true", "diagnosis", "--score", "score",
                           "--pos-label", "malignant")[::2])
    assert "q.csv: rows 1-1500: column 'diagnosis' holds the labels 'benign', 'unknown' besides --pos-label " \
           "'malignant'" in line


def test_boolean_and_yes_no_labels(tmp_path):
    """In a score task the true/false and yes/no columns are 1/0 (any case); as labels, booleans
    and the text true/false are 1 and 0 in every format, while yes/no stay text."""
    df = frame(seed=7)
    df.to_csv(tmp_path / "p.csv", index=False)  # flag written True/False
    df.to_parquet(tmp_path / "p.parquet")  # flag a boolean column
    df.to_json(tmp_path / "p.jsonl", orient="records", lines=True)  # flag true/false
    expected = skm.f1_score(df.y_true, df.score >= 0.5)
    for name in ("p.csv", "p.parquet", "p.jsonl"):
        for column in ("flag", "answer"):
            data, _ = json_out("evaluate", tmp_path / name, "--y-true", column, "--score", "score")
            assert data["metrics"]["f1"] == pytest.approx(expected), (name, column)
    # labels: a CSV of True/False and a Parquet bool column hold the same labels, 0 and 1
    flipped = df.assign(flag=~df.flag)
    flipped.to_parquet(tmp_path / "q.parquet")
    data, _ = json_out("evaluate", tmp_path / "p.csv", tmp_path / "q.parquet", "--y-true", "y_true", "--y-pred", "flag")
    both = pd.concat([df, flipped])
    assert_labels_match(data, both.assign(flag=both.flag.astype(int)), "y_true", "flag")
    answers = df.assign(answer=df.answer.str.lower())
    answers.to_csv(tmp_path / "a.csv", index=False)
    data, _ = json_out("evaluate", tmp_path / "a.csv", "--y-true", "answer", "--y-pred", "answer")
    assert list(data["report"])[:2] == ["no", "yes"]


# --- 4. options that do not apply are refused ------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["--y-pred", "guess", "--threshold", "0.3"],
                                  ["--score", "score", "w", "--threshold", "0.3"],
                                  ["--y-pred", "guess", "--pos-label", "cat"],
                                  ["--score", "score", "w", "--pos-label", "1"]])
def test_threshold_and_pos_label_need_one_score_column(argv):
    code, out, err = run("evaluate", "-", "--y-true", "animal", *argv)
    line = _one_error(code, err, 2)
    assert out == "" and argv[-2] in line and "one --score column" in line


# --- 5. output ----------------------------------------------------------------------------------------------------


def test_rows_and_weight_total_in_every_format(tmp_path):
    df = frame(seed=8)
    path = tmp_path / "p.parquet"
    df.to_parquet(path)
    args = ["evaluate", path, "--y-true", "animal", "--y-pred", "guess", "--weight", "w"]
    accuracy = skm.accuracy_score(df.animal, df.guess, sample_weight=df.w)
    code, out, err = run(*args)
    assert code == 0 and err == ""
    assert out.endswith(f"\nrows: {len(df)}\nweight_total: {df.w.sum():.4f}\naccuracy: {accuracy:.4f}\n")
    code, out, err = run(*args, "--format", "markdown")
    assert f"| rows | {len(df)} |\n| weight_total | {df.w.sum():.4f} |\n| accuracy | {accuracy:.4f} |" in out
    data, _ = json_out(*args)
    assert data["rows"] == len(df) and data["weight_total"] == pytest.approx(df.w.sum())
    assert "n_samples" not in data


def test_summary_numbers_have_the_same_digits(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"y": [0, 1, 1, 0], "p": [0, 1, 1, 0]}).to_csv(path, index=False)
    code, out, err = run("evaluate", path, "--y-true", "y", "--y-pred", "p")
    assert code == 0 and out.endswith("\nrows: 4\naccuracy: 1.0000\n")
    code, out, err = run("evaluate", path, "--y-true", "y", "--y-pred", "p", "--digits", "6")
    assert out.endswith("\nrows: 4\naccuracy: 1.000000\n") and "1.000000" in out.splitlines()[2]


def test_skipped_rows_are_counted_in_words(tmp_path):
    for bad, words in ((1, "1 bad row"), (2, "2 bad rows")):
        path = tmp_path / f"p{bad}.csv"
        path.write_text("y,p\n1,1\n0,0\n" + "x,1\n" * bad)
        code, out, err = run("evaluate", path, "--y-true", "y", "--y-pred", "p", "--labels", "0", "1",
                             "--on-bad-row", "skip")
        assert code == 0 and err == f"streameval: skipped {words}\n"


# --- 6. version and help ----------------------------------------------------------------------------------------


def test_version():
    code, out, err = run("--version")
    assert (code, out) == (0, f"streameval {streameval.__version__}\n")


def test_every_option_has_help():
    import argparse

    from streameval import cli

    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == {"evaluate", "watch"}
    for action in parser._actions:
        assert action.help and action.help != argparse.SUPPRESS, action.dest
    for name, sub in commands.items():
        for action in sub._actions:
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
        assert len(sub.description) > 200, name
    code, out, err = run("watch", "--help")
    assert code == 0
    assert "Follow a stream of predictions" in out and "--pos-label" in out.split("options:")[0]
    assert re.search(r"\n  --unit \{samples,seconds\}\s+what --window counts", out), out


# --- 7. progress bar and live table on a terminal ------------------------------------------------------------


def run_tty(argv, stream: str, stdin=b"", shim=None, extra=()):
    """Run ``python -m streameval argv`` with stream ("stdout" or "stderr") on a pseudo-terminal of
    100 x 30; (exit code, what the terminal received, the other stream). shim: a module name made
    unimportable (a directory in front of PYTHONPATH whose module raises ImportError)."""
    env = _env(TERM="xterm-256color")
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    if shim:
        env = _env(TERM="xterm-256color", SHIM=str(shim))
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    other = "stderr" if stream == "stdout" else "stdout"
    proc = subprocess.Popen([sys.executable, "-m", "streameval", *map(str, argv)], stdin=subprocess.PIPE,
                            **{stream: slave, other: subprocess.PIPE}, env=env)
    os.close(slave)
    proc.stdin.write(stdin)
    proc.stdin.close()
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        try:
            chunk = os.read(master, 1 << 16) if ready else b""
        except OSError:  # the child closed the terminal
            chunk = b""
        if not chunk:
            break
        seen += chunk
    code = proc.wait(timeout=60)
    os.close(master)
    return code, seen.decode(errors="replace"), getattr(proc, other).read().decode()


def _hide(tmp_path, module):
    shim = tmp_path / f"no-{module}"
    (shim / module).mkdir(parents=True)
    (shim / module / "__init__.py").write_text(f"raise ImportError('{module} hidden by the test')\n")
    return shim


def test_progress_bar_on_a_terminal(tmp_path):
    pytest.importorskip("tqdm")
    df = frame(seed=9)
    df.to_csv(tmp_path / "p.csv", index=False)
    args = ["evaluate", tmp_path / "p.csv", "--y-true", "animal", "--y-pred", "guess", "--format", "json"]
    code, tty, out = run_tty(args, "stderr")
    assert code == 0 and json.loads(out)["rows"] == len(df)
    assert f"p.csv {len(df):,} rows: 100%|" in tty and "█" in tty  # tqdm's bar
    code, tty, out = run_tty(args, "stderr", shim=_hide(tmp_path, "tqdm"))
    assert code == 0 and json.loads(out)["rows"] == len(df)
    assert f"\rp.csv: {len(df):,} rows 100.0%" in tty and "█" not in tty  # the plain line
    code, tty, out = run_tty([*args, "--no-progress"], "stderr")
    assert code == 0 and tty == ""
    code, out, err = run(*args)  # stderr not a terminal: no progress
    assert code == 0 and err == ""


def test_watch_live_table_on_a_terminal(tmp_path):
    pytest.importorskip("rich")
    rng = np.random.default_rng(10)
    y, p = rng.integers(0, 2, 60), rng.integers(0, 2, 60)
    lines = "".join(json.dumps({"y_true": int(a), "y_pred": int(b)}) + "\n" for a, b in zip(y, p)).encode()
    args = ["watch", "--pos-label", "1", "--interval", "60"]
    code, tty, err = run_tty(args, "stdout", stdin=lines)
    assert code == 0, err
    assert "streameval watch  window 1000 samples" in tty and "┏━━" in tty and "metric" in tty  # rich's table
    assert f"│ accuracy          │  {skm.accuracy_score(y, p):.4f} │" in tty
    code, tty, err = run_tty(args, "stdout", stdin=lines, shim=_hide(tmp_path, "rich"))
    assert code == 0, err
    assert tty.startswith("\x1b[H\x1b[2Jstreameval watch  window 1000 samples") and "┃" not in tty
    assert f"  accuracy           {skm.accuracy_score(y, p):.4f}" in tty


# --- 8. watch names its task ------------------------------------------------------------------------------------


def _watch(argv, lines):
    return run("watch", "--format", "json", "--interval", "60", *argv,
               stdin="".join(json.dumps(line) + "\n" for line in lines).encode())


def test_watch_refuses_to_guess_the_task():
    code, out, err = _watch([], [{"y_true": "spam", "y_pred": "ham"}])
    assert code == 2 and out == ""
    assert err.strip() == "streameval watch: error: name the task: --labels L1 L2 ... (the classes under --y-pred), " \
                          "--pos-label P (a binary task; --pos-label 1 for 0/1 labels) or --score KEY (binary scores)"
    code, out, err = _watch(["--labels", "a", "b", "--threshold", "0.3"], [])
    assert code == 2 and "--threshold is for --score" in err


def test_watch_pos_label_text_and_yes_no():
    rng = np.random.default_rng(11)
    y = rng.choice(["spam", "ham"], 80)
    p = np.where(rng.random(80) < 0.7, y, rng.choice(["spam", "ham"], 80))
    lines = [{"y_true": a, "y_pred": b} for a, b in zip(y, p)]
    code, out, err = _watch(["--pos-label", "spam"], [*lines[:40], {"y_true": "eggs", "y_pred": "spam"}, *lines[40:]])
    got = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and got["malformed"] == {"bad_value": 1} and got["n_samples"] == 80
    assert got["recall"] == pytest.approx(skm.recall_score(y, p, pos_label="spam"))
    assert got["precision"] == pytest.approx(skm.precision_score(y, p, pos_label="spam"))
    words = {1: ["yes", "True", "YES", 1, True], 0: ["no", "false", "No", 0, False]}
    yt, sc = rng.integers(0, 2, 60), rng.random(60)
    lines = [{"y_true": words[a][i % 5], "s": float(b)} for i, (a, b) in enumerate(zip(yt, sc))]
    code, out, err = _watch(["--score", "s", "--threshold", "0.4"], lines)
    got = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and got["malformed_lines"] == 0
    assert got["f1"] == pytest.approx(skm.f1_score(yt, sc >= 0.4))
