"""The ``streameval`` command line: ``streameval evaluate FILE...`` (and ``streameval watch``).

``evaluate`` reads CSV, Parquet, Arrow IPC and JSON Lines files in chunks with pyarrow (memory
stays constant on files larger than RAM), feeds each chunk to one accumulator and prints its
report. pyarrow is imported only when the command runs: ``import streameval`` never imports it.

Exit codes: 0 on success, 1 for a data error (bad row, missing column, unreadable file),
2 for a usage error (as argparse).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time

import numpy as np

PROG = "streameval"
FORMATS = {
    ".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow",
    ".jsonl": "jsonl", ".ndjson": "jsonl",
}
BATCH_ROWS = 65_536
CSV_BLOCK = 1 << 20
JSONL_BLOCK = 1 << 22

EVALUATE_HELP = """\
Which accumulator is used:
  --y-pred COL              Multiclass(labels="auto"): labels found in the data, sorted;
                            with --labels, Multiclass(labels=[...]) in that order.
  --score COL               Binary(threshold=T, bins=N): y_true is 0/1, positive when
                            score >= T; --bins adds roc_auc and average_precision.
  --score C1 C2 ... CK      Multiclass(K, bins=N) on (n, K) scores, predicted class = argmax;
                            labels are --labels or 0..K-1.

Rows are numbered from 1, counting data rows only (a CSV header is not a row).
"""


class CliError(Exception):
    """A data error: printed as one line on stderr, exit code 1."""


# --- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``streameval`` parser with its subcommands (``watch`` when streameval.watch exists)."""
    parser = argparse.ArgumentParser(prog=PROG, description="Streaming classification metrics.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    ev = sub.add_parser(
        "evaluate", help="metrics of prediction files (CSV, Parquet, Arrow IPC, JSON Lines)",
        description="Compute classification metrics over prediction files, chunk by chunk.",
        epilog=EVALUATE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ev.add_argument("files", nargs="+", metavar="FILE",
                    help="files read in order; format from the extension: .csv, .parquet/.pq, "
                         ".arrow/.feather/.ipc, .jsonl/.ndjson")
    ev.add_argument("--y-true", required=True, metavar="COL", help="column of true labels")
    pred = ev.add_mutually_exclusive_group(required=True)
    pred.add_argument("--y-pred", metavar="COL", help="column of predicted labels")
    pred.add_argument("--score", nargs="+", metavar="COL",
                      help="score column (binary) or one score column per class (multiclass)")
    ev.add_argument("--weight", metavar="COL", help="column of sample weights")
    ev.add_argument("--labels", nargs="+", metavar="LABEL", help="the classes, in report order")
    ev.add_argument("--threshold", type=float, default=0.5, metavar="T",
                    help="binary score threshold (default 0.5)")
    ev.add_argument("--bins", type=int, metavar="N", help="score histogram bins (enables roc_auc, average_precision)")
    ev.add_argument("--digits", type=int, default=2, metavar="D", help="digits of the text report (default 2)")
    ev.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="output format")
    ev.add_argument("--plot", metavar="OUT.png",
                    help="save a plot: confusion matrix (labels) or ROC curve (scores with --bins); needs matplotlib")
    ev.add_argument("--on-bad-row", choices=("error", "skip"), default="error",
                    help="a row with a null, non-numeric, NaN or invalid value: stop (default) or skip it")
    ev.set_defaults(func=run_evaluate)
    try:
        from . import watch
    except Exception:  # no (or a broken) streameval.watch: evaluate still works
        watch = None
    if watch is not None:
        wp = sub.add_parser("watch", help="follow a growing prediction stream (see streameval watch --help)")
        watch.add_arguments(wp)
        wp.set_defaults(func=watch.run)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "evaluate":
        check_usage(parser, args)
    return args.func(args)


def check_usage(parser, args) -> None:
    """Usage errors that argparse cannot see (exit code 2)."""
    ev = parser._subparsers._group_actions[0].choices["evaluate"]
    if args.bins is not None and args.score is None:
        ev.error("--bins needs --score")
    if args.bins is not None and args.bins < 1:
        ev.error(f"--bins {args.bins}: expected an integer >= 1")
    if args.score is not None and len(args.score) == 1 and args.labels is not None:
        ev.error("--labels is for --y-pred or several --score columns (one --score is binary 0/1)")
    if args.score is not None and len(args.score) > 1 and args.labels is not None and len(args.labels) != len(args.score):
        ev.error(f"--labels has {len(args.labels)} labels but there are {len(args.score)} --score columns")
    if args.plot is not None and args.score is not None and args.bins is None:
        ev.error("--plot with --score draws a ROC curve: give --bins N")
    if not math.isfinite(args.threshold):
        ev.error(f"--threshold {args.threshold}: expected a finite number")


# --- evaluate -------------------------------------------------------------------------------


def run_evaluate(args) -> int:
    """``streameval evaluate``: read every file, print the report; 1 on a data error."""
    try:
        plot = _plot_module() if args.plot else None
        ev = Evaluation(args)
        for path in args.files:
            ev.read_file(path)
        if ev.acc is None or ev.acc.n_samples == 0:
            raise CliError("no rows to evaluate" + (f" (all {ev.skipped} rows were bad)" if ev.skipped else ""))
        if ev.skipped:
            print(f"{PROG}: skipped {ev.skipped} bad rows", file=sys.stderr)
        sys.stdout.write(render(ev, args))
        if plot is not None:
            save_plot(plot, ev, args.plot)
    except CliError as e:
        print(f"{PROG} evaluate: error: {e}", file=sys.stderr)
        return 1
    return 0


def _plot_module():
    try:
        import matplotlib

        matplotlib.use("Agg")
        from . import plot
    except ImportError as e:
        raise CliError(f"--plot needs matplotlib and streameval.plot: {e}") from None
    return plot


def save_plot(plot, ev, path) -> None:
    """Confusion matrix for labels, ROC curve for binned scores."""
    fig = plot.roc_curve(ev.acc) if ev.args.score else plot.confusion_matrix(ev.acc)
    try:
        fig.savefig(path)
    except (OSError, ValueError) as e:
        raise CliError(f"cannot save the plot to {path}: {e}") from None


class Evaluation:
    """The accumulator and the reading state of one ``evaluate`` run."""

    def __init__(self, args):
        self.args = args
        self.acc = None
        self.skipped = 0
        self.label_kind = None  # "int" or "str", decided from the first chunk
        self.columns = [args.y_true] + ([args.y_pred] if args.y_pred else args.score) + ([args.weight] if args.weight else [])
        self.progress = Progress() if sys.stderr.isatty() else None

    def make_accumulator(self):
        """The accumulator the options ask for (see EVALUATE_HELP)."""
        from .binary import Binary
        from .multiclass import Multiclass

        a, weighted = self.args, self.args.weight is not None
        if a.score and len(a.score) == 1:
            return Binary(threshold=a.threshold, bins=a.bins, weighted=weighted)
        labels = None if a.labels is None else [int(v) if self.label_kind == "int" else v for v in a.labels]
        if a.score:
            if labels is None:
                return Multiclass(len(a.score), bins=a.bins, weighted=weighted)
            return Multiclass(labels=labels, bins=a.bins, weighted=weighted)
        return Multiclass(labels="auto" if labels is None else labels, weighted=weighted)

    def read_file(self, path: str) -> None:
        """Feed every chunk of path to the accumulator."""
        name = os.path.basename(path)
        offset = 0
        try:
            for batch, fraction in read_chunks(path, self.columns):
                self.feed(name, batch, offset)
                offset += batch.num_rows
                if self.progress:
                    self.progress.show(name, offset, fraction)
        except CliError:
            raise
        except Exception as e:  # pyarrow's parse errors, OSError
            if type(e).__module__.startswith("pyarrow") or isinstance(e, (OSError, ValueError)):
                raise CliError(f"{path}: cannot read the file: {_one_line(e)}") from None
            raise
        finally:
            if self.progress:
                self.progress.done()

    def feed(self, name: str, batch, offset: int) -> None:
        """Convert one chunk, drop or report its bad rows, update the accumulator."""
        a = self.args
        n = batch.num_rows
        if n == 0:
            return
        if self.label_kind is None:
            self.label_kind = "int" if a.score and len(a.score) == 1 else label_kind(batch.column(a.y_true))
            self.acc = self.make_accumulator()
        converted = {}  # column -> (values, bad mask, reason of row i)
        converted[a.y_true] = convert_labels(batch.column(a.y_true), self.label_kind)
        for col in [a.y_pred] if a.y_pred else a.score:
            converted[col] = convert_labels(batch.column(col), self.label_kind) if a.y_pred else convert_floats(batch.column(col))
        if a.weight:
            converted[a.weight] = convert_floats(batch.column(a.weight), weight=True)
        bad = np.zeros(n, dtype=bool)
        for col in self.columns:
            col_bad = converted[col][1]
            if a.on_bad_row == "error" and col_bad.any():
                i = int(np.argmax(col_bad))
                raise CliError(f"{name}: row {offset + i + 1}: column {col!r}: {converted[col][2](i)}")
            bad |= col_bad
        keep = np.flatnonzero(~bad)
        self.skipped += n - keep.size
        y_true = converted[a.y_true][0]
        y_pred = converted[a.y_pred][0] if a.y_pred else (
            converted[a.score[0]][0] if len(a.score) == 1 else np.column_stack([converted[c][0] for c in a.score]))
        weight = converted[a.weight][0] if a.weight else None
        pred_columns = [a.y_pred] if a.y_pred else a.score
        while keep.size:
            try:
                self.acc.update(y_true[keep], y_pred[keep], None if weight is None else weight[keep])
                return
            except (ValueError, TypeError) as e:
                found = _BAD_SAMPLE.match(str(e))
                if found is None:
                    raise CliError(f"{name}: rows {offset + 1}-{offset + n}: {_one_line(e)}") from None
                i, j = int(found["i"]), int(found["j"] or 0)
                if a.on_bad_row == "error":
                    col = {"y_true": a.y_true, "sample_weight": a.weight}.get(found["name"]) or pred_columns[min(j, len(pred_columns) - 1)]
                    raise CliError(f"{name}: row {offset + int(keep[i]) + 1}: column {col!r} = {found['rest']}") from None
                keep = np.delete(keep, i)
                self.skipped += 1


# "y_true[12] = 'x' is not one of the labels ..." as written by streameval._inputs
_BAD_SAMPLE = re.compile(r"^(?P<name>y_true|y_pred|sample_weight)\[(?P<i>\d+)(?:, (?P<j>\d+))?\] = (?P<rest>.*)$", re.S)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split()) or type(e).__name__


# --- column conversion ------------------------------------------------------------------------


def label_kind(column) -> str:
    """ "int" when the (first chunk of the) label column holds integers, booleans, integral
    floats or integer text; "str" otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = column.type
    if pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
        return "int"
    if pa.types.is_floating(t):
        values = column.drop_null().to_numpy(zero_copy_only=False)
        return "int" if np.all(np.isfinite(values) & (values == np.floor(values))) else "str"
    try:
        pc.cast(column, pa.int64())
        return "int"
    except Exception:
        return "str"


def _parse_all(values: list, parse):
    """Parse each value; (parsed, ok mask)."""
    out, ok = [], []
    for v in values:
        try:
            out.append(parse(v))
            ok.append(True)
        except (TypeError, ValueError, OverflowError):
            out.append(0)
            ok.append(False)
    return out, np.array(ok, dtype=bool)


def _int_label(v):
    if isinstance(v, float) and not v.is_integer():
        raise ValueError(v)
    return int(v)


def convert_labels(column, kind: str):
    """(numpy labels, bad mask, reason(i)) of a label column: int64 for "int", str for "str"."""
    import pyarrow as pa

    nulls = column.is_null().to_numpy(zero_copy_only=False)
    raw = None
    if kind == "int":
        t = column.type
        if pa.types.is_integer(t) or pa.types.is_boolean(t):
            values, bad = column.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64), nulls.copy()
        else:
            raw = column.to_pylist()
            parsed, ok = _parse_all(raw, _int_label)
            values, bad = np.array(parsed, dtype=np.int64), ~ok
    else:
        values = np.array(["" if v is None else str(v) for v in column.to_pylist()], dtype=str)
        bad = nulls.copy()

    def reason(i):
        if nulls[i]:
            return "empty (null)"
        return f"{raw[i]!r} is not an integer label" if raw is not None else "bad value"

    return values, bad, reason


def convert_floats(column, weight: bool = False):
    """(float64 values, bad mask, reason(i)) of a score or weight column: nulls, text that is not
    a number, NaN and infinities are bad (and negative weights)."""
    import pyarrow as pa

    nulls = column.is_null().to_numpy(zero_copy_only=False)
    raw = None
    t = column.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
        values = column.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
        unparsed = np.zeros(len(values), dtype=bool)
    else:
        raw = column.to_pylist()
        parsed, ok = _parse_all(raw, float)
        values, unparsed = np.array(parsed, dtype=np.float64), ~ok
    with np.errstate(invalid="ignore"):
        bad = nulls | unparsed | ~np.isfinite(values) | ((values < 0) if weight else False)

    def reason(i):
        if nulls[i]:
            return "empty (null)"
        if unparsed[i]:
            return f"{raw[i]!r} is not a number"
        if weight and values[i] < 0:
            return f"{values[i]!r} is not a valid weight: expected a finite number >= 0"
        return f"{values[i]!r} is not a finite {'weight' if weight else 'score'}"

    return values, bad, reason


# --- readers ----------------------------------------------------------------------------------


def file_format(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise CliError(f"{path}: unknown file type {ext or '(no extension)'!r}: expected one of {', '.join(FORMATS)}")
    return FORMATS[ext]


def _check_columns(path: str, names, columns) -> None:
    missing = [c for c in columns if c not in names]
    if missing:
        raise CliError(f"{path}: no column {missing[0]!r}; the file's columns are: {', '.join(map(str, names))}")


def read_chunks(path: str, columns):
    """Yield (record batch or table with just ``columns``, fraction of the file read) chunk by chunk."""
    fmt = file_format(path)
    if not os.path.isfile(path):
        raise CliError(f"{path}: no such file")
    return {"csv": _read_csv, "parquet": _read_parquet, "arrow": _read_arrow, "jsonl": _read_jsonl}[fmt](path, columns)


def _read_csv(path, columns):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    size = max(os.path.getsize(path), 1)
    with open(path, "rb") as f:
        names = pacsv.open_csv(f, read_options=pacsv.ReadOptions(block_size=CSV_BLOCK)).schema.names
    _check_columns(path, names, columns)
    convert = pacsv.ConvertOptions(include_columns=list(dict.fromkeys(columns)),
                                   column_types={c: pa.string() for c in columns}, strings_can_be_null=True)
    with open(path, "rb") as f:
        reader = pacsv.open_csv(f, read_options=pacsv.ReadOptions(block_size=CSV_BLOCK), convert_options=convert)
        for batch in reader:
            yield batch, min(f.tell() / size, 1.0)


def _read_parquet(path, columns):
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    _check_columns(path, pf.schema_arrow.names, columns)
    total, done = max(pf.metadata.num_rows, 1), 0
    for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=list(dict.fromkeys(columns))):
        done += batch.num_rows
        yield batch, done / total


def _read_arrow(path, columns):
    import pyarrow as pa

    with pa.memory_map(path) as source:
        try:
            reader = pa.ipc.open_file(source)
            n = reader.num_record_batches
            batches = (reader.get_batch(i) for i in range(n))
        except pa.ArrowInvalid:
            source.seek(0)
            reader = pa.ipc.open_stream(source)
            n, batches = None, reader
        _check_columns(path, reader.schema.names, columns)
        for i, batch in enumerate(batches):
            yield batch.select(list(dict.fromkeys(columns))), None if n is None else (i + 1) / max(n, 1)


def _read_jsonl(path, columns):
    import io

    import pyarrow as pa
    import pyarrow.json as pajson

    size, first = max(os.path.getsize(path), 1), True
    with open(path, "rb") as f:
        while True:
            lines = [line for line in f.readlines(JSONL_BLOCK) if line.strip()]
            if not lines:
                return
            table = pajson.read_json(io.BytesIO(b"".join(lines)))
            if first:
                _check_columns(path, table.column_names, columns)
                first = False
            cols = {c: table.column(c) if c in table.column_names else pa.nulls(table.num_rows) for c in columns}
            yield pa.table(cols), min(f.tell() / size, 1.0)


# --- progress and output --------------------------------------------------------------------------


class Progress:
    """A one-line progress display on stderr (carriage return, redrawn at most 10 times a second)."""

    def __init__(self):
        self.last = 0.0
        self.shown = False

    def show(self, name: str, rows: int, fraction) -> None:
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        pct = "" if fraction is None else f" {100 * fraction:5.1f}%"
        sys.stderr.write(f"\r{name}: {rows:,} rows{pct}")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.shown = False


def summary(ev) -> dict:
    """n_samples, accuracy and, with bins, roc_auc and average_precision."""
    acc = ev.acc
    out = {"n_samples": acc.n_samples, "accuracy": float(acc.accuracy())}
    if acc.bins is not None:
        out["roc_auc"] = float(acc.roc_auc())
        out["average_precision"] = float(acc.average_precision())
    return out


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return value


def render(ev, args) -> str:
    """The report in the chosen format."""
    report = ev.acc.report(digits=args.digits)
    facts = summary(ev)
    if args.format == "json":
        out = {"files": args.files, **facts, "skipped_rows": ev.skipped,
               "metrics": ev.acc.compute(), "report": report.to_dict()}
        return json.dumps(_json_safe(out), indent=2) + "\n"
    if args.format == "markdown":
        lines = ["| metric | value |", "|---|---|"] + [f"| {k} | {_fmt(v)} |" for k, v in facts.items()]
        return "\n".join(lines) + "\n\n" + report.to_markdown() + "\n"
    return str(report) + "\n" + "".join(f"{k}: {_fmt(v)}\n" for k, v in facts.items())


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) and not float(v).is_integer() else f"{v:g}" if isinstance(v, float) else str(v)
