"""The ``streameval`` command line: ``streameval evaluate FILE...`` (and ``streameval watch``).

``evaluate`` reads CSV, Parquet, Arrow IPC and JSON Lines files in chunks with pyarrow, feeds each
chunk to one accumulator and prints its report. pyarrow is imported only when the command runs:
``import streameval`` never imports it.

Memory does not grow with the number of rows (``benchmarks/bench_cli_memory.py`` measures it).
What a hostile file can make it hold is bounded:

- a chunk is at most ``BATCH_ROWS`` rows; a CSV row at most ``CSV_BLOCK`` bytes (pyarrow's block);
  a JSON line at most ``--max-line-bytes`` (``streameval.limits.MAX_LINE_BYTES``, 1 MiB): a longer
  line is a bad row, skipped without being held;
- Parquet column chunks are read through a ``PARQUET_BUFFER``-byte buffer (no pre-buffering of
  whole row groups), and text label columns are read as dictionaries;
- a text label is at most ``--max-label-length`` characters (``streameval.limits.MAX_LABEL_LENGTH``,
  1024): a longer one is a bad row. Labels are held once each (dictionary-encoded), never as
  fixed-width strings, so their memory is proportional to the distinct labels, of which
  ``Multiclass(labels="auto")`` keeps at most ``--max-labels``.

Labels: a value that reads as an integer is that integer, in every format: ``1``, ``1.0``, the
text ``"1"`` or ``"1.0"`` and ``1e3`` (1000) are integer labels; bools are 0 and 1. Any other text
is a text label. A number that is not an integer (``0.5``), NaN or an infinity is not a label.

Exit codes: 0 on success, 1 for a data error (bad row, missing column, unreadable file),
2 for a usage error (as argparse).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import stat
import sys
import time
import warnings

import numpy as np

from . import limits

PROG = "streameval"
FORMATS = {
    ".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow",
    ".jsonl": "jsonl", ".ndjson": "jsonl",
}
BATCH_ROWS = 65_536
CSV_BLOCK = 1 << 20
JSONL_BLOCK = 1 << 22
PARQUET_BUFFER = 1 << 20
MAX_DIGITS = 17  # float64 has 17 significant digits; more only pads the report

EVALUATE_HELP = """\
Which accumulator is used:
  --y-pred COL              Multiclass(labels="auto", max_labels=--max-labels): labels found in
                            the data, sorted; with --labels, Multiclass(labels=[...]) in that order.
  --score COL               Binary(threshold=T, bins=N): y_true is 0/1, positive when
                            score >= T; --bins adds roc_auc and average_precision.
  --score C1 C2 ... CK      Multiclass(K, bins=N) on (n, K) scores, predicted class = argmax;
                            labels are --labels or 0..K-1.

Labels: a value that reads as an integer is that integer in every format (1, 1.0, "1", "1.0");
other text is a text label; 0.5, NaN and infinities are not labels.

Rows are numbered from 1, counting data rows only (a CSV header, blank JSON lines are not rows).
"""


class CliError(Exception):
    """A data error: printed as one line on stderr, exit code 1."""


# --- option values (shared with streameval.watch) ----------------------------------------------


def int_option(lo: int, hi: int | None = None):
    """An argparse type: an integer in [lo, hi] (no upper bound when hi is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(
                f"{text} is out of range: expected an integer " + (f">= {lo}" if hi is None else f"from {lo} to {hi}"))
        return value

    return parse


def float_option(positive: bool = False, nonnegative: bool = False, allow_none: bool = False):
    """An argparse type: a finite number (> 0 when positive, >= 0 when nonnegative; the word
    "none" gives None when allowed)."""

    def parse(text: str):
        if allow_none and text.strip().lower() == "none":
            return None
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or (positive and value <= 0) or (nonnegative and value < 0):
            expected = "a positive number" if positive else "a number >= 0" if nonnegative else "a finite number"
            raise argparse.ArgumentTypeError(f"{text} is out of range: expected {expected}")
        return value

    return parse


def plain(value) -> str:
    """A number or label as a user wrote it: 2.0, -1, 'cat' (never np.float64(2.0))."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


class quiet_warnings:
    """A context in which each Python warning is one line on stderr, without file and line, and
    exceptions Python can only ignore (in a pyarrow callback, a __del__) print nothing: the
    error they stand for reaches the command as its own exception."""

    def __enter__(self):
        self.context = warnings.catch_warnings()
        self.context.__enter__()
        warnings.simplefilter("once")
        warnings.showwarning = self.show
        self.unraisable, sys.unraisablehook = sys.unraisablehook, lambda unraisable: None
        return self

    def __exit__(self, *exc):
        sys.unraisablehook = self.unraisable
        return self.context.__exit__(*exc)

    @staticmethod
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr)


# --- labels --------------------------------------------------------------------------------------

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:nan|inf|infinity)",
                          re.IGNORECASE)


def canonical_label(value, max_length: int | None = None):
    """The label a value stands for: an int for integer-valued numbers, bools and their text
    (``1``, ``1.0``, ``"1"``, ``" 1.0 "``, ``"1e3"``), else the text itself.

    ValueError (its message the reason) for numbers that are not integers, NaN and infinities, text
    longer than max_length characters (default ``streameval.limits.MAX_LABEL_LENGTH``), and other types.
    """
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{plain(value)} is not a label")
        if not value.is_integer():
            raise ValueError(f"{plain(value)} is not a label: a number label must be an integer")
        return int(value)
    if isinstance(value, str):
        limit = limits.MAX_LABEL_LENGTH if max_length is None else max_length
        if len(value) > limit:
            raise ValueError(f"a label of {len(value):,} characters is longer than --max-label-length {limit:,}")
        text = value.strip()
        if _INT_TEXT.fullmatch(text):
            try:
                return int(text)
            except ValueError:  # more digits than Python converts: it stays text
                return value
        if _NUMBER_TEXT.fullmatch(text):
            return canonical_label(float(text))
        return value
    raise ValueError(f"a {type(value).__name__} is not a label")


def _label_option(text: str):
    try:
        return canonical_label(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: {e}") from None


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
    ev.add_argument("--labels", nargs="+", metavar="LABEL", type=_label_option,
                    help="the classes, in report order (text that reads as an integer is that integer)")
    ev.add_argument("--threshold", type=float_option(), default=0.5, metavar="T",
                    help="binary score threshold (default 0.5)")
    ev.add_argument("--bins", type=int_option(1), metavar="N",
                    help="score histogram bins (enables roc_auc, average_precision)")
    ev.add_argument("--score-range", nargs=2, type=float_option(), metavar=("LO", "HI"),
                    help="range of the scores when they are not probabilities in [0, 1] (logits, "
                         "decision values): the bins span it")
    ev.add_argument("--max-labels", type=int_option(1), metavar="N",
                    help="with --y-pred and no --labels: most distinct labels "
                         f"(default streameval.limits.DEFAULT_MAX_LABELS = {limits.DEFAULT_MAX_LABELS:,})")
    ev.add_argument("--max-label-length", type=int_option(1), metavar="CHARS",
                    help="longest text label; a longer one is a bad row "
                         f"(default streameval.limits.MAX_LABEL_LENGTH = {limits.MAX_LABEL_LENGTH:,})")
    ev.add_argument("--max-line-bytes", type=int_option(1), metavar="BYTES",
                    help="longest JSON line; a longer one is a bad row, skipped without being held "
                         f"(default streameval.limits.MAX_LINE_BYTES = {limits.MAX_LINE_BYTES:,})")
    ev.add_argument("--digits", type=int_option(0, MAX_DIGITS), default=2, metavar="D",
                    help="digits of the text report (default 2)")
    ev.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="output format")
    ev.add_argument("--plot", metavar="OUT.png",
                    help="save a plot: confusion matrix (labels) or ROC curve (scores with --bins); needs matplotlib")
    ev.add_argument("--on-bad-row", choices=("error", "skip"), default="error",
                    help="a row with a null, non-numeric, NaN or invalid value: stop (default) or skip it")
    ev.set_defaults(func=run_evaluate, subparser=ev)
    try:
        from . import watch
    except ImportError:  # no streameval.watch: evaluate still works
        return parser
    wp = sub.add_parser("watch", help="follow a growing prediction stream (see streameval watch --help)",
                        description=(watch.__doc__ or "").split("\n")[0])
    watch.add_arguments(wp)
    wp.set_defaults(func=watch.run)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    with quiet_warnings():
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return 2
        if args.command == "evaluate":
            check_usage(args.subparser, args)
            args.accumulator = make_accumulator(args.subparser, args)
        return args.func(args)


def check_usage(ev, args) -> None:
    """Usage errors that argparse cannot see (exit code 2)."""
    for option in ("y_true", "y_pred", "weight"):
        if getattr(args, option) == "":
            ev.error(f"--{option.replace('_', '-')}: the column name is empty")
    if args.score is not None and "" in args.score:
        ev.error("--score: a column name is empty")
    if args.bins is not None and args.score is None:
        ev.error("--bins needs --score")
    if args.score_range is not None and args.score is None:
        ev.error("--score-range needs --score")
    if args.score_range is not None and not args.score_range[0] < args.score_range[1]:
        ev.error(f"--score-range {plain(args.score_range[0])} {plain(args.score_range[1])}: expected LO < HI")
    if args.max_labels is not None and (args.y_pred is None or args.labels is not None):
        ev.error("--max-labels is for --y-pred without --labels (labels found in the data)")
    if args.score is not None and len(args.score) == 1 and args.labels is not None:
        ev.error("--labels is for --y-pred or several --score columns (one --score is binary 0/1)")
    if args.score and len(args.score) > 1 and args.labels is not None and len(args.labels) != len(args.score):
        ev.error(f"--labels has {len(args.labels)} labels but there are {len(args.score)} --score columns")
    if args.labels is not None:
        seen = set()
        for label in args.labels:
            if label in seen:
                ev.error(f"--labels: the label {plain(label)} is given twice (1, 1.0 and \"1\" are one label)")
            seen.add(label)
    if args.plot is not None and args.score is not None and args.bins is None:
        ev.error("--plot with --score draws a ROC curve: give --bins N")


def make_accumulator(ev, args):
    """The accumulator the options ask for (see EVALUATE_HELP); a refused configuration is a usage error."""
    from .binary import Binary
    from .multiclass import Multiclass

    weighted = args.weight is not None
    extra = {} if args.score_range is None else {"score_range": tuple(args.score_range)}
    try:
        if args.score and len(args.score) == 1:
            return Binary(threshold=args.threshold, bins=args.bins, weighted=weighted, **extra)
        if args.score:
            if args.labels is None:
                return Multiclass(len(args.score), bins=args.bins, weighted=weighted, **extra)
            return Multiclass(labels=args.labels, bins=args.bins, weighted=weighted, **extra)
        if args.labels is not None:
            return Multiclass(labels=args.labels, weighted=weighted)
        bound = {} if args.max_labels is None else {"max_labels": args.max_labels}
        return Multiclass(labels="auto", weighted=weighted, **bound)
    except (TypeError, ValueError) as e:
        ev.error(_one_line(e))


# --- evaluate -------------------------------------------------------------------------------


def run_evaluate(args) -> int:
    """``streameval evaluate``: read every file, print the report; 1 on a data error."""
    try:
        plot = _plot_module() if args.plot else None
        ev = Evaluation(args)
        for path in args.files:
            ev.read_file(path)
        ev.check_counted()
        if ev.skipped:
            print(f"{PROG}: skipped {ev.skipped} bad rows", file=sys.stderr)
        sys.stdout.write(render(ev, args))
        if plot is not None:
            save_plot(plot, ev, args.plot)
    except CliError as e:
        print(f"{PROG} evaluate: error: {e}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{PROG} evaluate: error: out of memory", file=sys.stderr)
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
        raise CliError(f"cannot save the plot to {path}: {_one_line(e)}") from None


class Evaluation:
    """The accumulator and the reading state of one ``evaluate`` run."""

    def __init__(self, args):
        self.args = args
        self.acc = args.accumulator
        self.rows = 0  # data rows read, bad ones included
        self.skipped = 0
        self.pred_columns = [args.y_pred] if args.y_pred else args.score
        self.label_columns = [args.y_true] + ([args.y_pred] if args.y_pred else [])
        self.columns = list(dict.fromkeys([args.y_true, *self.pred_columns] + ([args.weight] if args.weight else [])))
        # Binary and Multiclass(K) take class indices; explicit --labels are the only labels allowed
        self.int_labels = bool(args.score) and (len(args.score) == 1 or args.labels is None)
        self.allowed = None if args.labels is None else set(args.labels)
        self.max_length = limits.MAX_LABEL_LENGTH if args.max_label_length is None else args.max_label_length
        self.progress = Progress() if sys.stderr.isatty() else None

    def check_counted(self) -> None:
        """CliError unless something was counted, saying why not."""
        if self.acc.n_samples > 0:
            return
        if self.rows == 0:
            raise CliError("no rows to evaluate: the files hold no data rows")
        if self.skipped == self.rows:
            raise CliError(f"no rows to evaluate: all {self.rows} rows were bad")
        raise CliError(f"no rows to evaluate: the weights of all {self.rows - self.skipped} rows are zero")

    def read_file(self, path: str) -> None:
        """Feed every chunk of path to the accumulator."""
        name = os.path.basename(path)
        offset = 0
        try:
            for batch, fraction, row_errors in read_chunks(path, self):
                self.feed(name, batch, offset, row_errors)
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

    def feed(self, name: str, batch, offset: int, row_errors=None) -> None:
        """Convert one chunk, drop or report its bad rows, update the accumulator.

        row_errors: None, or (bad mask, reason(i)) for rows the reader could not parse.
        """
        a = self.args
        n = batch.num_rows
        if n == 0:
            return
        self.rows += n
        converted = {}  # column -> (values, bad mask, reason of row i)
        for col in self.columns:
            column = batch.column(col)
            if col in self.label_columns:
                converted[col] = convert_labels(column, self.int_labels, self.allowed, self.max_length)
            else:
                converted[col] = convert_floats(column, weight=col == a.weight)
        checks = [(None, row_errors)] if row_errors is not None else []
        checks += [(col, converted[col][1:]) for col in self.columns]
        bad = np.zeros(n, dtype=bool)
        for _, (col_bad, _) in checks:
            bad |= col_bad
        if a.on_bad_row == "error" and bad.any():
            first = int(np.argmax(bad))
            col, (_, reason) = next((c, check) for c, check in checks if check[0][first])
            where = "" if col is None else f" column {col!r}"
            raise CliError(f"{name}: row {offset + first + 1}:{where}{reason(first) if col else ' ' + reason(first)}")
        keep = np.flatnonzero(~bad)
        self.skipped += n - keep.size
        y_true = converted[a.y_true][0]
        y_pred = converted[a.y_pred][0] if a.y_pred else (
            converted[a.score[0]][0] if len(a.score) == 1 else np.column_stack([converted[c][0] for c in a.score]))
        weight = converted[a.weight][0] if a.weight else None
        while keep.size:
            try:
                self.acc.update(y_true[keep], y_pred[keep], None if weight is None else weight[keep])
                return
            except (ValueError, TypeError, OverflowError) as e:
                found = _BAD_SAMPLE.match(str(e))
                if found is None:
                    why = self._too_many_labels(y_true[keep], y_pred[keep]) or _one_line(e)
                    raise CliError(f"{name}: rows {offset + 1}-{offset + n}: {why}") from None
                i, j = int(found["i"]), int(found["j"] or 0)
                if a.on_bad_row == "error":
                    col = ({"y_true": a.y_true, "sample_weight": a.weight}.get(found["name"])
                           or self.pred_columns[min(j, len(self.pred_columns) - 1)])
                    # finite scores refused by the accumulator lie outside its score range
                    hint = (" (command line: --score-range LO HI, with --threshold on that scale)"
                            if a.score and found["name"] == "y_pred" and a.score_range is None else "")
                    raise CliError(f"{name}: row {offset + int(keep[i]) + 1}: column {col!r} = "
                                   f"{_one_line_text(found['rest'])}{hint}") from None
                keep = np.delete(keep, i)
                self.skipped += 1


    def _too_many_labels(self, y_true, y_pred) -> str | None:
        """The message when these rows take labels="auto" past its max_labels, else None."""
        bound = getattr(self.acc, "max_labels", None)
        if self.args.labels is not None or self.args.score or bound is None:
            return None
        labels = set(self.acc.labels) | set(y_true.tolist()) | set(y_pred.tolist())
        if len(labels) <= bound:
            return None
        return (f"these rows bring the distinct labels to {len(labels):,}, more than --max-labels {bound:,}: "
                "give a larger --max-labels if they are all classes (the counts take labels**2 cells)")


# "y_true[12] = 'x' is not one of the labels ..." as written by streameval._inputs
_BAD_SAMPLE = re.compile(r"^(?P<name>y_true|y_pred|sample_weight)\[(?P<i>\d+)(?:, (?P<j>\d+))?\] = (?P<rest>.*)$", re.S)


def _one_line_text(text: str, width: int = 300) -> str:
    """text on one line of printable characters, at most width of them (messages quote file bytes)."""
    text = " ".join(text.split())
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= width else text[: width - 3] + "..."


def _one_line(e: BaseException) -> str:
    return _one_line_text(str(e)) or type(e).__name__


def _short(value, width: int = 60) -> str:
    """repr(value) cut to width characters: messages stay one short line whatever the data holds."""
    text = plain(value)
    return text if len(text) <= width else text[: width - 3] + "..."


# --- column conversion ------------------------------------------------------------------------
#
# A conversion gives (numpy values, bad mask, reason(i)); reason(i) is what follows the column's
# name in the message of bad row i: ": empty (null)", " = 'emu' is not one of the labels [...]".

_INT64 = (-(2**63), 2**63 - 1)
_SIMPLE_KINDS = ("int", "float", "bool", "text", "null")


def _kind(t) -> str:
    """The kind of a pyarrow type: int, float, bool, null, text, bytes, dictionary, decimal or other."""
    import pyarrow as pa

    for kind, test in (("bool", pa.types.is_boolean), ("int", pa.types.is_integer), ("float", pa.types.is_floating),
                       ("null", pa.types.is_null), ("dictionary", pa.types.is_dictionary),
                       ("decimal", pa.types.is_decimal), ("text", pa.types.is_string),
                       ("text", pa.types.is_large_string), ("bytes", pa.types.is_binary),
                       ("bytes", pa.types.is_large_binary)):
        if test(t):
            return kind
    if str(t) == "string_view":
        return "text"
    return "other"


def check_column_types(path: str, schema, ev) -> None:
    """CliError for a column whose type holds neither labels nor numbers (lists, structs, dates...)."""
    for col in ev.columns:
        t = schema.field(col).type
        kind = _kind(t.value_type) if _kind(t) == "dictionary" else _kind(t)
        if kind == "other" or (kind == "bytes" and col not in ev.label_columns):
            what = "labels (integers or text)" if col in ev.label_columns else "numbers"
            raise CliError(f"{path}: column {col!r} has type {_short(str(t), 60)[1:-1]}: expected {what}")


def _to_array(column):
    """A pyarrow Array from an Array or ChunkedArray (a reader's chunk is small)."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else pa.concat_arrays(column.chunks)
    return column


def _nulls(column) -> np.ndarray:
    return column.is_null().to_numpy(zero_copy_only=False)


def convert_labels(column, int_labels: bool = False, allowed=None, max_length: int | None = None):
    """(labels, bad mask, reason(i)) of a label column, read as ``canonical_label`` reads a value.

    The labels are int64 when every good one is an integer that fits int64, else an object array in
    which each distinct label is one Python object: 8 bytes a row plus the distinct labels, never
    fixed-width strings. int_labels: only integers are good (class indices); allowed: only these.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    column = _to_array(column)
    kind = _kind(column.type)
    limit = limits.MAX_LABEL_LENGTH if max_length is None else max_length
    wide = kind == "int" and pa.types.is_uint64(column.type) and (pc.max(column).as_py() or 0) > _INT64[1]
    if kind == "null" or (kind in ("int", "bool") and allowed is None and not wide):
        nulls = _nulls(column)
        values = np.zeros(len(column), np.int64) if kind == "null" else \
            column.fill_null(0).cast(pa.int64()).to_numpy(zero_copy_only=False)
        return values, nulls, lambda i: ": empty (null)"
    too_long = None
    if kind == "bytes":
        try:
            column = column.cast(pa.string())
        except pa.ArrowInvalid:
            raise CliError("a label column holds bytes that are not UTF-8 text") from None
        kind = "text"
    if kind == "text":  # overlong text never enters the dictionary
        lengths = pc.utf8_length(column)
        long_rows = pc.fill_null(pc.greater(lengths, limit), False)
        if pc.any(long_rows).as_py():
            too_long, lengths = long_rows.to_numpy(zero_copy_only=False), lengths.to_numpy(zero_copy_only=False)
            column = pc.if_else(long_rows, pa.scalar(None, column.type), column)
    elif kind == "decimal":
        column = column.cast(pa.string())
    if kind != "dictionary":
        column = pc.dictionary_encode(column)
    values, bad, reason = _from_dictionary(column.indices, column.dictionary, int_labels, allowed, limit)
    if too_long is None:
        return values, bad, reason

    def long_reason(i):
        if too_long[i]:
            return f": a label of {int(lengths[i]):,} characters is longer than --max-label-length {limit:,}"
        return reason(i)

    return values, bad | too_long, long_reason


def _from_dictionary(indices, dictionary, int_labels, allowed, max_length):
    """Labels of rows given as indices into a dictionary: each value a row uses is read once."""
    nulls = _nulls(indices)
    n = len(indices)
    if len(dictionary) == 0 or nulls.all():
        return np.zeros(n, np.int64), np.ones(n, dtype=bool), lambda i: ": empty (null)"
    used, pos = np.unique(indices.fill_null(0).to_numpy(zero_copy_only=False), return_inverse=True)
    entries = dictionary.take(used).to_pylist()
    canon: list = []
    reasons: dict[int, str] = {}
    shown = None
    for k, value in enumerate(entries):
        try:
            if value is None:
                raise ValueError("empty (null)")
            label = canonical_label(value, max_length)
        except ValueError as e:
            canon.append(0)
            reasons[k] = f": {e}"
            continue
        canon.append(label)
        is_int = isinstance(label, int) and _INT64[0] <= label <= _INT64[1]
        if int_labels and not is_int:
            reasons[k] = f" = {_short(value)} is not an integer label"
        elif allowed is not None and label not in allowed:
            if shown is None:
                listed = sorted(allowed, key=lambda v: (isinstance(v, str), v))
                shown = listed[:10] + (["..."] if len(listed) > 10 else [])
            reasons[k] = f" = {_short(label)} is not one of the labels {shown}"
    entry_bad = np.zeros(len(canon), dtype=bool)
    entry_bad[list(reasons)] = True
    good = [v for k, v in enumerate(canon) if k not in reasons]
    if all(isinstance(v, int) and _INT64[0] <= v <= _INT64[1] for v in good):
        table = np.array([0 if k in reasons else v for k, v in enumerate(canon)], dtype=np.int64)
    else:
        table = np.empty(len(canon), dtype=object)
        table[:] = canon
    pos = pos.reshape(-1)

    def reason(i):
        return ": empty (null)" if nulls[i] else reasons.get(int(pos[i]), ": bad value")

    return table[pos], nulls | entry_bad[pos], reason


def convert_floats(column, weight: bool = False):
    """(float64 values, bad mask, reason(i)) of a score or weight column: nulls, text that is not
    a number, NaN and infinities are bad (and negative weights)."""
    import pyarrow as pa

    column = _to_array(column)
    if _kind(column.type) == "dictionary":
        column = column.dictionary_decode()
    nulls = _nulls(column)
    raw = None
    try:
        values = column.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
        unparsed = np.zeros(len(values), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # text that is not all numbers: find which
        raw = column.cast(pa.string()).to_pylist()
        values, unparsed = _parse_numbers(raw)
    with np.errstate(invalid="ignore"):
        bad = nulls | unparsed | ~np.isfinite(values) | ((values < 0) if weight else False)

    def reason(i):
        if nulls[i]:
            return ": empty (null)"
        if unparsed[i]:
            return f": {_short(raw[i])} is not a number"
        if weight and values[i] < 0:
            return f": {plain(values[i])} is not a valid weight: expected a finite number >= 0"
        return f": {plain(values[i])} is not a finite {'weight' if weight else 'score'}"

    return values, bad, reason


def _parse_numbers(raw: list) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, unparsed mask) of text: numbers as written in CSV ("1", "-2.5e3", "nan")."""
    values = np.zeros(len(raw), dtype=np.float64)
    unparsed = np.zeros(len(raw), dtype=bool)
    for i, text in enumerate(raw):
        if text is None:
            continue
        if _NUMBER_TEXT.fullmatch(text.strip()):
            values[i] = float(text)
        else:
            unparsed[i] = True
    return values, unparsed


# --- readers ----------------------------------------------------------------------------------


def file_format(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise CliError(f"{path}: unknown file type {ext or '(no extension)'!r}: expected one of {', '.join(FORMATS)}")
    return FORMATS[ext]


def _name(name) -> str:
    return name if isinstance(name, str) and name.isprintable() and len(name) <= 40 else _short(name, 40)


def _check_columns(path: str, names, columns) -> None:
    names = list(names)
    missing = [c for c in columns if c not in names]
    if missing:
        shown = ", ".join(_name(n) for n in names[:20]) + (f", ... ({len(names)} columns)" if len(names) > 20 else "")
        raise CliError(f"{path}: no column {missing[0]!r}; the file's columns are: {shown or '(none)'}")
    for col in columns:
        if names.count(col) > 1:
            raise CliError(f"{path}: the file has {names.count(col)} columns named {col!r}: cannot tell which to read")


def read_chunks(path: str, ev):
    """Yield (record batch with just ev.columns, fraction of the file read, row errors) chunk by
    chunk; row errors are None or (bad mask, reason(i)) for rows the reader could not parse."""
    fmt = file_format(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except OSError as e:
        raise CliError(f"{path}: cannot read the file: {e.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise CliError(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise CliError(f"{path}: is not a regular file (a pipe, device or socket): save it to a file first")
    if info.st_size == 0 and fmt != "jsonl":
        raise CliError(f"{path}: the file is empty")
    return {"csv": _read_csv, "parquet": _read_parquet, "arrow": _read_arrow, "jsonl": _read_jsonl}[fmt](path, ev)


def _read_csv(path, ev):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    size = max(os.path.getsize(path), 1)
    read = pacsv.ReadOptions(block_size=CSV_BLOCK)
    with open(path, "rb") as f:  # the header (rows with the wrong number of fields are for later)
        names = pacsv.open_csv(f, read_options=read, parse_options=pacsv.ParseOptions(
            invalid_row_handler=lambda row: "skip")).schema.names
    _check_columns(path, names, ev.columns)
    invalid = []  # rows with the wrong number of fields, as pyarrow reports them (without a row number)

    def on_invalid(row):
        invalid.append(row)
        return "skip"

    def check_invalid():
        if invalid and ev.args.on_bad_row == "error":
            row = invalid[0]
            raise CliError(f"{path}: a row has {row.actual_columns} field(s) where the header has "
                           f"{row.expected_columns}: {_short(row.text)}")
        ev.rows += len(invalid)
        ev.skipped += len(invalid)
        invalid.clear()

    convert = pacsv.ConvertOptions(include_columns=ev.columns, column_types={c: pa.string() for c in ev.columns},
                                   strings_can_be_null=True)
    with open(path, "rb") as f:
        reader = pacsv.open_csv(f, read_options=read, parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
                                convert_options=convert)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as e:
                if "straddl" in str(e):
                    raise CliError(f"{path}: a row is longer than {CSV_BLOCK:,} bytes") from None
                raise
            check_invalid()
            yield batch, min(f.tell() / size, 1.0), None
        check_invalid()


def _read_parquet(path, ev):
    import pyarrow.parquet as pq

    # no pre-buffering: pyarrow would read whole row groups (every column chunk) at once
    options = {"pre_buffer": False, "buffer_size": PARQUET_BUFFER}
    with pq.ParquetFile(path, **options) as pf:
        schema = pf.schema_arrow
    _check_columns(path, schema.names, ev.columns)
    check_column_types(path, schema, ev)
    text = [c for c in ev.label_columns if _kind(schema.field(c).type) in ("text", "bytes")]
    with pq.ParquetFile(path, read_dictionary=text, **options) as pf:  # text labels as dictionaries
        _check_decoded_size(path, pf.metadata, text, ev.max_length)
        total, done = max(pf.metadata.num_rows, 1), 0
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=ev.columns):
            done += batch.num_rows
            yield batch, done / total, None


def _check_decoded_size(path, meta, columns, max_length: int) -> None:
    """CliError when a text label column decodes (by the file's metadata) to more bytes than rows
    of labels at most max_length characters long can take: a few kilobytes of compressed repeats
    would otherwise expand to gigabytes before any label is seen."""
    leaf = {meta.schema.column(j).path: j for j in range(meta.num_columns)}
    per_row = 4 * max_length + 16  # UTF-8 bytes, length prefix and levels
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        for col in columns:
            size = group.column(leaf[col]).total_uncompressed_size
            if size > group.num_rows * per_row + (1 << 20):
                raise CliError(f"{path}: column {col!r} decodes to {size:,} bytes for {group.num_rows:,} rows "
                               f"(row group {i}): labels longer than --max-label-length {max_length:,}")


def _read_arrow(path, ev):
    import mmap

    import pyarrow as pa

    # Batches are read in place from a memory map. Pages read stay in the process's resident set
    # until dropped: each chunk drops them once it is counted, so memory does not grow with the file.
    with open(path, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    source = pa.BufferReader(pa.py_buffer(mapped))
    try:
        reader = pa.ipc.open_file(source)
        n = reader.num_record_batches
        batches = (reader.get_batch(i) for i in range(n))
    except pa.ArrowInvalid:
        source.seek(0)
        reader = pa.ipc.open_stream(source)
        n, batches = None, reader
    _check_columns(path, reader.schema.names, ev.columns)
    check_column_types(path, reader.schema, ev)
    drop = getattr(mmap, "MADV_DONTNEED", None) if hasattr(mapped, "madvise") else None  # (not on Windows)
    for i, batch in enumerate(batches):
        batch = batch.select(ev.columns)
        for start in range(0, batch.num_rows, BATCH_ROWS):  # a file's batches may be of any size
            yield batch.slice(start, BATCH_ROWS), None if n is None else (i + 1) / max(n, 1), None
            if drop is not None:
                mapped.madvise(drop)


def read_lines(f, max_bytes: int):
    """Each non-blank line of f (bytes), or None for a line longer than max_bytes, which is read
    past in pieces and never held whole."""
    while True:
        line = f.readline(max_bytes + 1)
        if not line:
            return
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while True:
                rest = f.readline(1 << 16)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
        elif line.strip():
            yield line


def _read_jsonl(path, ev):
    size = max(os.path.getsize(path), 1)
    max_bytes = limits.MAX_LINE_BYTES if ev.args.max_line_bytes is None else ev.args.max_line_bytes
    checked = False
    with open(path, "rb") as f:
        lines: list = []
        held = 0
        for line in read_lines(f, max_bytes):
            lines.append(line)
            held += 0 if line is None else len(line)
            if held >= JSONL_BLOCK or len(lines) >= BATCH_ROWS:
                batch, errors, names = _parse_json_lines(lines, ev.columns, max_bytes)
                if not checked and names is not None:
                    _check_columns(path, names, ev.columns)
                    checked = True
                yield batch, min(f.tell() / size, 1.0), errors
                lines, held = [], 0
        if lines:
            batch, errors, names = _parse_json_lines(lines, ev.columns, max_bytes)
            if not checked and names is not None:
                _check_columns(path, names, ev.columns)
            yield batch, 1.0, errors


def _parse_json_lines(lines: list, columns: list, max_bytes: int):
    """(record batch of columns, row errors or None, keys seen or None when no line was an object).

    pyarrow parses a block of flat objects fast; anything else (a bad line, nesting, a column whose
    type changes from line to line) is parsed line by line with json, where nesting deeper than
    Python's recursion limit is a bad row, not a crash (pyarrow's parser would overflow the stack).
    """
    import io

    import pyarrow as pa
    import pyarrow.json as pajson

    n = len(lines)
    if None not in lines:
        data = b"".join(lines)
        if data.count(b"[") == 0 and data.count(b"{") == n:  # n objects, none nested
            try:
                table = pajson.read_json(io.BytesIO(data), read_options=pajson.ReadOptions(
                    use_threads=False, block_size=len(data) + 1))
            except pa.ArrowInvalid:
                table = None
            names = [] if table is None else table.column_names
            if table is not None and table.num_rows == n and all(
                    _kind(table.schema.field(c).type) in _SIMPLE_KINDS for c in columns if c in names):
                arrays = [_to_array(table.column(c)) if c in names else pa.nulls(n) for c in columns]
                return pa.record_batch(arrays, names=columns), None, names
    texts = {c: [None] * n for c in columns}
    bad = np.zeros(n, dtype=bool)
    reasons: dict[int, str] = {}
    names = None
    for i, line in enumerate(lines):
        try:
            if line is None:
                raise ValueError(f"the line is longer than --max-line-bytes {max_bytes:,}")
            try:
                record = json.loads(line)
            except RecursionError:
                raise ValueError("the line is nested too deeply") from None
            except ValueError:
                raise ValueError("the line is not valid JSON") from None
            if not isinstance(record, dict):
                raise ValueError(f"the line is a JSON {_json_type(record)}, not an object")
            if names is None:
                names = {}
            if len(names) < 1000:
                names.update(dict.fromkeys(record))
            for c in columns:
                value = record.get(c)
                if isinstance(value, (dict, list)):
                    raise ValueError(f"column {c!r} holds a JSON {_json_type(value)}, not a value")
                texts[c][i] = _json_text(value)
        except ValueError as e:
            bad[i] = True
            reasons[i] = str(e)
    arrays = [pa.array(texts[c], type=pa.string()) for c in columns]
    errors = (bad, reasons.__getitem__) if bad.any() else None
    return pa.record_batch(arrays, names=columns), errors, None if names is None else list(names)


def _json_type(value) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _json_text(value):
    """A JSON value as the text a CSV would hold: labels and numbers then read alike in every format."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    return repr(value)


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
    if isinstance(v, float):  # whole numbers in full: a weighted n_samples of 1234567.0 is not 1.23457e+06
        return f"{v:.0f}" if v.is_integer() and abs(v) < 1e15 else f"{v:.4f}"
    return str(v)
