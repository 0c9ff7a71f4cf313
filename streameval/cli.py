"""The ``streameval`` command line: ``streameval evaluate INPUT...`` and ``streameval watch``.

``evaluate`` reads CSV, TSV, Parquet, Arrow IPC and JSON Lines inputs (files, compressed files,
directories, globs, stdin: ``streameval._readers``) in chunks with pyarrow, feeds each chunk to one
accumulator and prints its report. pyarrow is imported only when the command runs:
``import streameval`` never imports it. Values read as labels and numbers as
``streameval._columns`` says.

Exit codes (``streameval._command.ExitCode``, shared with ``watch``): 0 on success, 1 for a data
error (bad row, missing column, unreadable file), 2 for a usage error (as argparse).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__, limits
from . import _cli_reference as reference
from ._cli_reference import check_compatible, load_reference
from ._cli_slices import DEFAULT_MAX_SLICES, GroupedCounts, facts, json_dumps, render_slices, summary_text, \
    too_many_slices
from ._columns import convert_floats, convert_labels
from ._command import (EXIT_STATUS_HELP, PROG, CliError, ExitCode, counted, float_option, int_option, label_option,
                       one_line, one_line_text, plain, quiet_warnings)
from ._inputs import show
from ._readers import COMPRESSIONS, FORMATS, INPUT_FORMATS, Source, read_chunks, sources
from .errors import InputError, InputTypeError

if TYPE_CHECKING:
    from .binary import Binary
    from .multiclass import Multiclass

MAX_DIGITS = 17  # float64 has 17 significant digits; more only pads the report
SUMMARY_DIGITS = 4  # digits of the summary lines (accuracy, roc_auc...), or --digits when larger

EVALUATE_DESCRIPTION = """\
Compute classification metrics over prediction files, chunk by chunk, in constant memory, and
print scikit-learn's classification report with a summary (rows, accuracy, and with --bins the
ROC AUC and average precision)."""

EVALUATE_HELP = """\
Which accumulator is used:
  --y-pred COL              Multiclass(labels="auto", max_labels=--max-labels): labels found in
                            the data, sorted; with --labels, Multiclass(labels=[...]) in that order.
  --score COL               Binary(threshold=T, pos_label=P, bins=N): y_true is 0/1 (also
                            true/false, yes/no), or any labels with --pos-label P; positive when
                            score >= T; --bins adds roc_auc and average_precision (approximate).
  --score C1 C2 ... CK      Multiclass(K, bins=N) on (n, K) scores, predicted class = argmax;
                            labels are --labels or 0..K-1.

Without --y-true every row is unlabelled: the report is the prediction distribution (predicted
classes; with --bins the score histogram), the estimated accuracy, precision, recall and F1
(CBPE, probability scores) and, with --reference REF (a saved accumulator of the same
configuration), the drift against it (psi, jensenshannon, chi2; ks and wasserstein with --bins).

Inputs: files (format from the extension: .csv, .tsv, .parquet/.pq, .arrow/.feather/.ipc,
.jsonl/.ndjson; CSV, TSV and JSON Lines also compressed: .gz, .bz2, .zst), directories (every
file below, in path order), globs ('data/*.parquet', expanded here), and - for stdin (CSV
unless --input-format; compressed stdin is recognised by its first bytes). A Parquet file that
lacks a column takes it from a key=value directory in its path (hive partitioning).

Labels: a value that reads as an integer is that integer in every format (1, 1.0, "1", "1.0");
booleans and the text true/false are 1 and 0; other text is a text label; 0.5, NaN and
infinities are not labels. Rows are numbered from 1, counting data rows only (a CSV header,
blank JSON lines are not rows).

""" + EXIT_STATUS_HELP


# --- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``streameval`` parser with its subcommands."""
    from . import watch

    parser = argparse.ArgumentParser(prog=PROG, description="Streaming classification metrics that match scikit-learn.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help="streameval COMMAND --help for its options")
    ev = sub.add_parser(
        "evaluate", help="metrics of prediction files (CSV, TSV, Parquet, Arrow IPC, JSON Lines; compressed; stdin)",
        description=EVALUATE_DESCRIPTION, epilog=EVALUATE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_evaluate_arguments(ev)
    ev.set_defaults(func=run_evaluate, subparser=ev)
    wp = sub.add_parser("watch", help="windowed metrics of a live stream of JSON lines, as a table or JSON lines",
                        description=watch.DESCRIPTION, epilog=watch.EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    watch.add_arguments(wp)
    wp.set_defaults(func=watch.run)
    return parser


def add_evaluate_arguments(ev: argparse.ArgumentParser) -> None:
    """The options of ``streameval evaluate``."""
    ev.add_argument("files", nargs="+", metavar="INPUT",
                    help="a file, a directory (a dataset), a glob such as 'data/*.parquet', or - for stdin; "
                         "read in order")
    ev.add_argument("--y-true", metavar="COL",
                    help="column of true labels; without it every row is unlabelled: the report is the prediction "
                         "distribution, the estimated metrics (probability scores) and, with --reference, the drift")
    pred = ev.add_mutually_exclusive_group(required=True)
    pred.add_argument("--y-pred", metavar="COL", help="column of predicted labels")
    pred.add_argument("--score", nargs="+", metavar="COL",
                      help="score column (binary) or one score column per class (multiclass)")
    ev.add_argument("--weight", metavar="COL", help="column of sample weights (finite, >= 0)")
    ev.add_argument("--labels", nargs="+", metavar="LABEL", type=label_option,
                    help="the classes, in report order (text that reads as an integer is that integer)")
    ev.add_argument("--pos-label", type=label_option, metavar="LABEL",
                    help="with one --score column: the positive class of y_true, which may then hold any "
                         "two labels (default: y_true is 0/1, true/false or yes/no)")
    ev.add_argument("--threshold", type=float_option(), metavar="T",
                    help="with one --score column: positive when score >= T (default 0.5)")
    ev.add_argument("--bins", type=int_option(1), metavar="N",
                    help="score histogram bins: adds roc_auc (with its bracket) and average_precision, "
                         "both approximate")
    ev.add_argument("--score-range", nargs=2, type=float_option(), metavar=("LO", "HI"),
                    help="range of the scores when they are not probabilities in [0, 1] (logits, "
                         "decision values): the bins span it")
    ev.add_argument("--from-logits", action="store_true",
                    help="the --score columns are logits: the sigmoid (one column) or softmax (one per class) "
                         "is applied before the threshold, bins and losses (Binary/Multiclass(from_logits=True))")
    ev.add_argument("--input-format", choices=INPUT_FORMATS, metavar="FORMAT",
                    help=f"format of stdin (default csv) and of files whose extension does not say one: "
                         f"{', '.join(INPUT_FORMATS)}")
    ev.add_argument("--compression", choices=("auto", "none", *dict.fromkeys(COMPRESSIONS.values())), default="auto",
                    help="of CSV, TSV and JSON Lines inputs (default auto: from the extension "
                         f"{', '.join(COMPRESSIONS)}, else from the first bytes)")
    ev.add_argument("--delimiter", type=_delimiter, metavar="CHAR",
                    help=r"field delimiter of CSV and TSV inputs, one character; \t or tab for a tab "
                         "(default , for CSV and tab for TSV)")
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
                    help=f"digits of the classification report (default 2); the summary lines show "
                         f"{SUMMARY_DIGITS} or D, whichever is more")
    ev.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                    help="output: text (scikit-learn's report and the summary), json or markdown (default text)")
    ev.add_argument("--plot", metavar="OUT.png",
                    help="save a plot: confusion matrix (labels) or ROC curve (scores with --bins); needs matplotlib")
    ev.add_argument("--on-bad-row", choices=("error", "skip"), default="error",
                    help="a row with a null, non-numeric, NaN or invalid value: stop (default) or skip it")
    ev.add_argument("--no-progress", action="store_true",
                    help="no progress bar (shown on stderr when it is a terminal: tqdm if installed)")
    ev.add_argument("--reference", metavar="REF",
                    help="a saved accumulator of the same configuration (acc.save(REF)), say of the "
                         "validation set: adds the drift of the predictions against it")
    ev.add_argument("--group-by", action="append", metavar="COL",
                    help="also report each slice of the rows by this column's values (repeat it to cross "
                         "columns: a slice per combination), counted in the same pass")
    ev.add_argument("--max-slices", type=int_option(1), metavar="N",
                    help=f"with --group-by: most distinct keys (default {DEFAULT_MAX_SLICES:,}); past it an error, "
                         "or see --slice-overflow")
    ev.add_argument("--slice-overflow", choices=("error", "other"), metavar="{error,other}",
                    help="with --group-by, past --max-slices: stop with an error (default), or count the rows of "
                         "the keys found after the slices were full together in the slice \"__other__\"")


def _delimiter(text: str) -> str:
    text = {"\\t": "\t", "tab": "\t"}.get(text, text)
    if len(text) != 1 or text in "\r\n\"":
        raise argparse.ArgumentTypeError(f"{text!r} is not valid: expected one character other than a quote or newline")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (an ExitCode)."""
    with quiet_warnings():
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return ExitCode.USAGE
        if args.command == "evaluate":
            check_usage(args.subparser, args)
            try:
                args.reference_acc = None if args.reference is None else load_reference(args.reference)
                args.accumulator = make_accumulator(args.subparser, args)
                if args.reference_acc is not None:
                    check_compatible(args.accumulator, args.reference_acc, args.reference)
            except CliError as e:
                print(f"{PROG} evaluate: error: {e}", file=sys.stderr)
                return ExitCode.FAILED
            try:
                args.grouped = None if args.group_by is None else GroupedCounts(args, args.accumulator)
            except (TypeError, ValueError) as e:  # the slices' state would pass its bound
                args.subparser.error(f"--group-by: {one_line(e)}")
        command: Callable[[argparse.Namespace], ExitCode] = args.func
        return command(args)


def check_usage(ev: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors that argparse cannot see (exit code 2)."""
    for option in ("y_true", "y_pred", "weight"):
        if getattr(args, option) == "":
            ev.error(f"--{option.replace('_', '-')}: the column name is empty")
    one_score = args.score is not None and len(args.score) == 1
    if args.score is not None and "" in args.score:
        ev.error("--score: a column name is empty")
    if args.files.count("-") > 1:
        ev.error("- (stdin) is given more than once")
    if args.bins is not None and args.score is None:
        ev.error("--bins needs --score")
    if args.score_range is not None and args.score is None:
        ev.error("--score-range needs --score")
    if args.from_logits and args.score is None:
        ev.error("--from-logits needs --score")
    if args.score_range is not None and not args.score_range[0] < args.score_range[1]:
        ev.error(f"--score-range {plain(args.score_range[0])} {plain(args.score_range[1])}: expected LO < HI")
    if args.threshold is not None and not one_score:
        ev.error("--threshold is for one --score column: with --y-pred the labels are compared as they are, and "
                 "with several --score columns the predicted class is the one with the highest score")
    if args.pos_label is not None and not one_score:
        ev.error("--pos-label is for one --score column (a binary task); with --y-pred or several --score "
                 "columns every class has its own row in the report")
    if args.max_labels is not None and (args.y_pred is None or args.labels is not None):
        ev.error("--max-labels is for --y-pred without --labels (labels found in the data)")
    if one_score and args.labels is not None:
        ev.error("--labels is for --y-pred or several --score columns (one --score is binary: 0/1, or --pos-label)")
    if args.score and len(args.score) > 1 and args.labels is not None and len(args.labels) != len(args.score):
        ev.error(f"--labels has {len(args.labels)} labels but there are {len(args.score)} --score columns")
    if args.labels is not None:
        seen: set[Any] = set()
        for label in args.labels:
            if label in seen:
                ev.error(f"--labels: the label {plain(label)} is given twice (1, 1.0 and \"1\" are one label)")
            seen.add(label)
    if args.plot is not None and args.score is not None and args.bins is None:
        ev.error("--plot with --score draws a ROC curve: give --bins N")
    if args.y_true is None:
        for option, why in (("group_by", "--group-by"), ("plot", "--plot")):
            if getattr(args, option) is not None:
                ev.error(f"{why} needs --y-true: without labels the report is the prediction distribution")
    if args.reference == "":
        ev.error("--reference: the path is empty")
    if args.delimiter is not None and not _may_be_csv(args):
        ev.error("--delimiter is for CSV and TSV inputs, and none of the inputs is one")
    if args.group_by is not None:
        if "" in args.group_by:
            ev.error("--group-by: the column name is empty")
        twice = next((c for c in args.group_by if args.group_by.count(c) > 1), None)
        if twice is not None:
            ev.error(f"--group-by {twice!r} is given twice")
    for option in ("max_slices", "slice_overflow"):
        if getattr(args, option) is not None and args.group_by is None:
            ev.error(f"--{option.replace('_', '-')} is for --group-by")


def _may_be_csv(args: argparse.Namespace) -> bool:
    """Whether some input may be CSV or TSV, judged by the names alone."""
    for name in args.files:
        if name == "-":
            if args.input_format in (None, "csv", "tsv"):
                return True
            continue
        base, ext = os.path.splitext(name.lower())
        if ext in COMPRESSIONS:
            ext = os.path.splitext(base)[1]
        fmt = FORMATS.get(ext, args.input_format)
        if fmt in (None, "csv", "tsv") or os.path.isdir(name):
            return True
    return False


def make_accumulator(ev: argparse.ArgumentParser, args: argparse.Namespace) -> Binary | Multiclass:
    """The accumulator the options ask for (see EVALUATE_HELP); a refused configuration is a usage error."""
    from .binary import Binary
    from .multiclass import Multiclass

    weighted = args.weight is not None
    extra: dict[str, Any] = {} if args.score_range is None else {"score_range": tuple(args.score_range)}
    if args.from_logits:
        extra["from_logits"] = True
    if args.y_true is None:  # every row without a label: update(None, y_pred)
        extra["unlabelled"] = True
    reference = getattr(args, "reference_acc", None)
    if args.y_pred and args.labels is None and reference is not None and isinstance(reference, Multiclass):
        args.labels = list(reference.labels)  # the reference's classes, in its order
    try:
        if args.score and len(args.score) == 1:
            threshold = 0.5 if args.threshold is None else args.threshold
            pos = {} if args.pos_label is None else {"pos_label": args.pos_label}
            return Binary(threshold=threshold, bins=args.bins, weighted=weighted, **pos, **extra)
        if args.score:
            if args.labels is None:
                return Multiclass(len(args.score), bins=args.bins, weighted=weighted, **extra)
            return Multiclass(labels=args.labels, bins=args.bins, weighted=weighted, **extra)
        unlabelled = args.y_true is None
        if args.labels is not None:
            return Multiclass(labels=args.labels, weighted=weighted, unlabelled=unlabelled)
        bound = {} if args.max_labels is None else {"max_labels": args.max_labels}
        return Multiclass(labels="auto", weighted=weighted, unlabelled=unlabelled, **bound)
    except (TypeError, ValueError) as e:
        ev.error(one_line(e))


# --- evaluate -------------------------------------------------------------------------------


def run_evaluate(args: argparse.Namespace) -> ExitCode:
    """``streameval evaluate``: read every input, print the report; FAILED on a data error."""
    try:
        plot = _plot_module() if args.plot else None
        inputs = sources(args.files, args.input_format, args.compression)
        ev = Evaluation(args)
        for source in inputs:
            ev.read(source)
        ev.finish()
        ev.check_counted()
        if ev.skipped:
            print(f"{PROG}: skipped {counted(ev.skipped, 'bad row')}", file=sys.stderr)
        sys.stdout.write(render(ev, args, [source.path or "-" for source in inputs]))
        if plot is not None:
            save_plot(plot, ev, args.plot)
    except CliError as e:
        print(f"{PROG} evaluate: error: {e}", file=sys.stderr)
        return ExitCode.FAILED
    except MemoryError:
        print(f"{PROG} evaluate: error: out of memory", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


def _plot_module() -> ModuleType:
    try:
        import matplotlib

        matplotlib.use("Agg")
        from . import plot
    except ImportError as e:
        raise CliError(f"--plot needs matplotlib and streameval.plot: {e}") from None
    return plot


def save_plot(plot: ModuleType, ev: Evaluation, path: str) -> None:
    """Confusion matrix for labels, ROC curve for binned scores."""
    fig = plot.roc_curve(ev.acc) if ev.args.score else plot.confusion_matrix(ev.acc)
    try:
        fig.savefig(path)
    except (OSError, ValueError) as e:
        raise CliError(f"cannot save the plot to {path}: {one_line(e)}") from None


class Evaluation:
    """The accumulator and the reading state of one ``evaluate`` run."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.acc: Binary | Multiclass = args.accumulator
        self.rows = 0  # data rows read, bad ones included
        self.skipped = 0
        self.pred_columns = [args.y_pred] if args.y_pred else args.score
        self.grouped: GroupedCounts | None = getattr(args, "grouped", None)
        self.key_columns: list[str] = [] if self.grouped is None else self.grouped.columns
        labelled = [args.y_true] if args.y_true is not None else []  # no --y-true: every row unlabelled
        self.label_columns = labelled + ([args.y_pred] if args.y_pred else []) + self.key_columns
        self.columns = list(dict.fromkeys([*labelled, *self.pred_columns] + ([args.weight] if args.weight else [])
                                          + self.key_columns))
        binary = bool(args.score) and len(args.score) == 1
        self.pos_label = args.pos_label if binary and args.pos_label != 1 else None  # 1: the 0/1 default
        # Binary takes 0/1 (or, with --pos-label, any labels), Multiclass(K) class indices;
        # explicit --labels are the only labels allowed
        self.int_labels = bool(args.score) and self.pos_label is None and (binary or args.labels is None)
        self.yes_no = binary and self.pos_label is None  # 0/1 labels: yes/no read as 1/0
        self.negatives: set[Any] = set()  # with --pos-label: the other label seen (more is not a binary task)
        self.allowed = None if args.labels is None else set(args.labels)
        self.max_length = limits.MAX_LABEL_LENGTH if args.max_label_length is None else args.max_label_length
        self.progress: PlainProgress | TqdmProgress | None = (
            None if args.no_progress or not sys.stderr.isatty() else make_progress())

    def finish(self) -> None:
        """With --group-by: acc becomes the overall accumulator, the sum of the slices."""
        if self.grouped is not None:
            self.acc = self.grouped.overall(self.acc)  # type: ignore[assignment]

    def check_counted(self) -> None:
        """CliError unless something was counted, saying why not."""
        if self.acc.n_samples > 0:
            return
        if self.rows == 0:
            raise CliError("no rows to evaluate: the inputs hold no data rows")
        good = self.rows - self.skipped
        if good == 0:
            raise CliError("no rows to evaluate: " + ("the one row was bad" if self.rows == 1 else
                                                      f"all {self.rows:,} rows were bad"))
        raise CliError("no rows to evaluate: " + ("the weight of the one good row is zero" if good == 1 else
                                                  f"the weights of all {good:,} rows are zero"))

    def read(self, source: Source) -> None:
        """Feed every chunk of a source to the accumulator."""
        offset = 0
        if self.progress:
            self.progress.start(source.name)
        try:
            for batch, fraction, row_errors in read_chunks(source, self):
                self.feed(source.name, batch, offset, row_errors)
                offset += batch.num_rows
                if self.progress:
                    self.progress.show(offset, fraction)
        except CliError:
            raise
        except Exception as e:  # pyarrow's parse and decompression errors, OSError
            if type(e).__module__.startswith("pyarrow") or isinstance(e, (OSError, ValueError, EOFError)):
                raise CliError(f"{source.name}: cannot read the {'input' if source.path is None else 'file'}: "
                               f"{one_line(e)}") from None
            raise
        finally:
            if self.progress:
                self.progress.done()

    def feed(self, name: str, batch: Any, offset: int,
             row_errors: tuple[np.ndarray, Callable[[int], str]] | None = None) -> None:
        """Convert one chunk, drop or report its bad rows, update the accumulator.

        row_errors: None, or (bad mask, reason(i)) for rows the reader could not parse.
        """
        a = self.args
        n = batch.num_rows
        if n == 0:
            return
        self.rows += n
        converted: dict[str, tuple[np.ndarray, np.ndarray, Callable[[int], str]]] = {}  # values, bad mask, reason
        for col in self.columns:
            column = batch.column(col)
            if col in (a.y_true, a.y_pred):
                converted[col] = convert_labels(column, self.int_labels, self.allowed, self.max_length,
                                                yes_no=self.yes_no and col == a.y_true)
            elif col not in self.key_columns:
                converted[col] = convert_floats(column, weight=col == a.weight)
        keys = {col: converted[col] if col in (a.y_true, a.y_pred) else  # group keys read as labels are
                convert_labels(batch.column(col), max_length=self.max_length) for col in self.key_columns}
        checks: list[tuple[str | None, tuple[np.ndarray, Callable[[int], str]]]] = \
            [(None, row_errors)] if row_errors is not None else []
        checks += [(col, converted[col][1:]) for col in self.columns if col in converted]
        checks += [(col, keys[col][1:]) for col in self.key_columns if col not in converted]
        bad = np.zeros(n, dtype=bool)
        for _, (col_bad, _) in checks:
            bad |= col_bad
        if a.on_bad_row == "error" and bad.any():
            first = int(np.argmax(bad))
            col, (_, reason) = next((c, check) for c, check in checks if check[0][first])
            where = "" if col is None else f" column {col!r}"
            raise CliError(f"{name}: row {offset + first + 1}:{where}{reason(first) if col else ' ' + reason(first)}",
                           name, offset + first + 1, col)
        keep = np.flatnonzero(~bad)
        self.skipped += n - keep.size
        y_true = converted[a.y_true][0] if a.y_true is not None else None
        y_pred = converted[a.y_pred][0] if a.y_pred else (
            converted[a.score[0]][0] if len(a.score) == 1 else np.column_stack([converted[c][0] for c in a.score]))
        weight = converted[a.weight][0] if a.weight else None
        if self.pos_label is not None and y_true is not None:
            self._check_two_labels(name, offset, n, y_true[keep])
        while keep.size:
            try:
                if self.grouped is None:
                    self.acc.update(None if y_true is None else y_true[keep], y_pred[keep],
                                    None if weight is None else weight[keep])
                else:
                    assert y_true is not None  # --group-by needs --y-true
                    self.grouped.update(y_true[keep], y_pred[keep], None if weight is None else weight[keep],
                                        [keys[col][0][keep] for col in self.key_columns])
                return
            except (ValueError, TypeError, OverflowError) as e:
                refused = _bad_sample(e)
                if refused is None:
                    why = self._too_many_labels(y_pred[keep] if y_true is None else y_true[keep],
                                                y_pred[keep]) or one_line(e)
                    if self.grouped is not None and "max_slices" in why:
                        why = too_many_slices(self.key_columns, self.grouped.max_slices)
                    raise CliError(f"{name}: rows {offset + 1}-{offset + n}: {why}") from None
            sample, score_column = _sample_and_column(refused)
            if a.on_bad_row == "error":
                raise self._bad_row(name, offset + int(keep[sample]) + 1, refused, score_column)
            keep = np.delete(keep, sample)
            self.skipped += 1

    def _bad_row(self, name: str, row: int, bad: InputError | InputTypeError, score_column: int) -> CliError:
        """The error for the file row whose sample the accumulator refused: the message the
        accumulator gives, with the file's row and column in place of the argument and index."""
        a = self.args
        col = ({"y_true": a.y_true, "sample_weight": a.weight}.get(bad.argument)
               or self.pred_columns[min(score_column, len(self.pred_columns) - 1)])
        # finite scores refused by the accumulator lie outside its score range
        hint = (" (command line: --from-logits for logits; --score-range LO HI, with --threshold on that scale)"
                if a.score and bad.argument == "y_pred" and a.score_range is None else "")
        return CliError(f"{name}: row {row}: column {col!r} = {one_line_text(f'{show(bad.value)} {bad.problem}')}{hint}",
                        name, row, col)

    def _check_two_labels(self, name: str, offset: int, n: int, y_true: np.ndarray) -> None:
        """CliError when y_true holds two labels besides --pos-label over all the rows read: a
        binary task counts the positive label against one other, and Binary sees a chunk at a time."""
        if len(self.negatives) > 1:
            return
        self.negatives |= {v for v in set(y_true.tolist()) if v != self.pos_label}
        if len(self.negatives) > 1:
            shown = sorted(self.negatives, key=lambda v: (isinstance(v, str), v))[:3]
            raise CliError(f"{name}: rows {offset + 1}-{offset + n}: column {self.args.y_true!r} holds the labels "
                           f"{', '.join(map(plain, shown))} besides --pos-label {plain(self.pos_label)}: a binary task "
                           "counts the positive label against one other (check --pos-label; for more classes use "
                           "--y-pred or one --score column per class)")

    def _too_many_labels(self, y_true: np.ndarray, y_pred: np.ndarray) -> str | None:
        """The message when these rows take labels="auto" past its max_labels, else None."""
        from .multiclass import Multiclass

        acc = self.acc
        if self.args.labels is not None or self.args.score or not isinstance(acc, Multiclass):
            return None
        bound = acc.max_labels
        labels = set(acc.labels) | set(y_true.tolist()) | set(y_pred.tolist())
        if len(labels) <= bound:
            return None
        return (f"these rows bring the distinct labels to {len(labels):,}, more than --max-labels {bound:,}: "
                "give a larger --max-labels if they are all classes (the counts take labels**2 cells)")


_SAMPLE_ARGUMENTS = ("y_true", "y_pred", "sample_weight")  # the arguments a chunk's columns are passed as


def _bad_sample(error: Exception) -> InputError | InputTypeError | None:
    """error, when it names a bad sample of a chunk's columns; None when it is about the chunk as a
    whole (too many labels, an overflow)."""
    if isinstance(error, (InputError, InputTypeError)) and error.argument in _SAMPLE_ARGUMENTS \
            and error.index is not None:
        return error
    return None


def _sample_and_column(error: InputError | InputTypeError) -> tuple[int, int]:
    """(sample, score column) of the bad sample: the column is 0 but in (n, K) scores."""
    index = error.index
    if isinstance(index, int):
        return index, 0
    assert index is not None  # _bad_sample's errors name a position
    return index[0], index[1] if len(index) > 1 else 0


# --- progress ------------------------------------------------------------------------------------


def make_progress() -> PlainProgress | TqdmProgress:
    """tqdm's progress bar when tqdm is installed, else a plain one-line display."""
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return PlainProgress()
    return TqdmProgress()


class PlainProgress:
    """A one-line progress display on stderr (carriage return, redrawn at most 10 times a second)."""

    def start(self, name: str) -> None:
        self.name, self.last, self.shown = name, 0.0, False

    def show(self, rows: int, fraction: float | None) -> None:
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        pct = "" if fraction is None else f" {100 * fraction:5.1f}%"
        sys.stderr.write(f"\r{self.name}: {rows:,} rows{pct}")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


class TqdmProgress:
    """One tqdm bar per input: the share of the input read (bytes as stored, or Parquet rows) and
    the rows so far; for stdin, of unknown length, the rows and the time."""

    def start(self, name: str) -> None:
        from tqdm import tqdm

        # shutil's size: COLUMNS and LINES, else the terminal's, else 80 x 24; a terminal that
        # reports 0 rows (a fresh pseudo-terminal) would make tqdm draw nothing
        size = shutil.get_terminal_size()
        self.name = name
        self.bar = tqdm(total=100, desc=name, file=sys.stderr, ncols=size.columns, nrows=size.lines,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
        self.known = True

    def show(self, rows: int, fraction: float | None) -> None:
        if fraction is None and self.known:
            self.known = False
            self.bar.bar_format = "{desc} [{elapsed}]"
        self.bar.set_description_str(f"{self.name} {rows:,} rows", refresh=False)
        self.bar.update((100 * fraction if fraction is not None else 0) - self.bar.n)

    def done(self) -> None:
        self.bar.close()


# --- output --------------------------------------------------------------------------------------


def summary(ev: Evaluation) -> dict[str, Any]:
    """rows, weight_total (weighted), accuracy and, with bins, roc_auc with its bounds and
    average_precision."""
    return facts(ev.acc, ev.rows - ev.skipped)


def render(ev: Evaluation, args: argparse.Namespace, files: list[str]) -> str:
    """The report in the chosen format; files: the inputs read (JSON lists them). With --group-by,
    the slices follow: a table of them, then each one's report (JSON: a "slices" list)."""
    if args.y_true is None:
        return render_unlabelled(ev, args, files)
    drift = None if args.reference_acc is None else reference.drift_dict(
        reference.drifts(ev.acc, args.reference_acc, reference.drift_methods(ev.acc)))
    report = ev.acc.report(digits=args.digits)
    values = summary(ev)
    slices, after = ([], "") if ev.grouped is None else render_slices(ev.grouped, args)
    if args.format == "json":
        out = {"files": files, "rows": values["rows"], "weight_total": None, **values, "score_bins": args.bins,
               "skipped_rows": ev.skipped, "metrics": ev.acc.compute(), "report": report.to_dict()}
        if drift is not None:
            out["drift"] = drift
        if ev.grouped is not None:
            out.update(group_by=ev.grouped.columns, slices=slices)
        return json_dumps(out)
    digits = max(SUMMARY_DIGITS, args.digits)
    lines = [(key, summary_text(key, values, digits, args.bins)) for key in values if key != "roc_auc_bounds"]
    lines += reference.drift_lines(drift, digits)
    if args.format == "markdown":
        table = ["| metric | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in lines]
        return "\n".join(table) + "\n\n" + report.to_markdown() + "\n" + after
    return str(report) + "\n" + "".join(f"{k}: {v}\n" for k, v in lines) + after


def render_unlabelled(ev: Evaluation, args: argparse.Namespace, files: list[str]) -> str:
    """The report without labels (no --y-true): the prediction distribution, the estimated
    metrics when the scores are probabilities, and with --reference the drift."""
    acc = ev.acc
    dist = reference.distribution(acc)
    estimated = reference.estimated_dict(reference.estimates(acc, reference.estimated_metrics(acc, bool(args.score))))
    drift = None if args.reference_acc is None else reference.drift_dict(
        reference.drifts(acc, args.reference_acc, reference.drift_methods(acc)))
    if args.format == "json":
        out = {"files": files, "rows": ev.rows - ev.skipped, "skipped_rows": ev.skipped, "labelled": False,
               "score_bins": args.bins, "prediction_distribution": dist, "estimated": estimated}
        if drift is not None:
            out["drift"] = drift
        return json_dumps(out)
    lines = [("rows", str(ev.rows - ev.skipped))]
    lines += reference.text_lines(dist, drift, estimated, max(SUMMARY_DIGITS, args.digits))
    if args.format == "markdown":
        return "\n".join(["| metric | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in lines]) + "\n"
    width = max(len(k) for k, _ in lines)
    head = "no labels (no --y-true): every row is unlabelled\n"
    return head + "".join(f"{k + ':':<{width + 1}} {v}\n" for k, v in lines)
