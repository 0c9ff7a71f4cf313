"""What ``streameval evaluate`` and ``streameval watch`` share: exit codes, option types, the
data-error exception, one-line messages and warnings, counted nouns."""

from __future__ import annotations

import argparse
import enum
import math
import sys
import warnings
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

import numpy as np

PROG = "streameval"


class ExitCode(enum.IntEnum):
    """The exit status of every streameval command: one convention for ``evaluate`` and ``watch``."""

    OK = 0  # evaluate printed its report; watch's stream ended (or was stopped) with no alert tripped
    FAILED = 1  # the data or the system: a bad row, a missing column, an unreadable or missing file, a port taken
    USAGE = 2  # the command line: a bad option value or combination (argparse exits 2 for its own)
    ALERT = 3  # watch: an alert tripped during the run


EXIT_STATUS_HELP = f"""\
Exit status (the same for every {PROG} command):
  {ExitCode.OK:d}  success
  {ExitCode.FAILED:d}  failed: a bad row (evaluate; watch counts malformed lines instead), a missing
     column, a missing or unreadable file, a port taken; one line on stderr
  {ExitCode.USAGE:d}  usage error: a bad option value or combination
  {ExitCode.ALERT:d}  an alert (watch --alert) tripped during the run
"""


class CliError(Exception):
    """A data error: printed as one line on stderr, exit code ExitCode.FAILED. A bad row also
    names its input (``source``), ``row`` (from 1, data rows only) and ``column``."""

    def __init__(self, message: str, source: str | None = None, row: int | None = None, column: str | None = None):
        super().__init__(message)
        self.source, self.row, self.column = source, row, column


def int_option(lo: int, hi: int | None = None) -> Callable[[str], int]:
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


def float_option(positive: bool = False, nonnegative: bool = False,
                 allow_none: bool = False) -> Callable[[str], float | None]:
    """An argparse type: a finite number (> 0 when positive, >= 0 when nonnegative; the word
    "none" gives None when allowed)."""

    def parse(text: str) -> float | None:
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


def label_option(text: str) -> Any:
    """An argparse type: a label, read as a file's value is read (``"1.0"`` is the label 1)."""
    from ._columns import canonical_label

    try:
        return canonical_label(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: {e}") from None


def plain(value: Any) -> str:
    """A number or label as a user wrote it: 2.0, -1, 'cat' (never np.float64(2.0))."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def short(value: Any, width: int = 60) -> str:
    """repr(value) cut to width characters: messages stay one short line whatever the data holds."""
    text = plain(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def one_line_text(text: str, width: int = 300) -> str:
    """text on one line of printable characters, at most width of them (messages quote file bytes)."""
    text = " ".join(text.split())
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= width else text[: width - 3] + "..."


def one_line(e: BaseException) -> str:
    return one_line_text(str(e)) or type(e).__name__


def counted(n: int, noun: str) -> str:
    """"1 bad row", "2 bad rows", "1,024 bad rows"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


class quiet_warnings:
    """A context in which each Python warning is one line on stderr, without file and line, and
    exceptions Python can only ignore (in a pyarrow callback, a __del__) print nothing: the
    error they stand for reaches the command as its own exception."""

    def __enter__(self) -> quiet_warnings:
        self.context = warnings.catch_warnings()
        self.context.__enter__()
        warnings.simplefilter("once")
        # what Python hides by default stays hidden: it speaks to developers, not to users
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)
        warnings.showwarning = self.show
        self.unraisable, sys.unraisablehook = sys.unraisablehook, lambda unraisable: None
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        sys.unraisablehook = self.unraisable
        self.context.__exit__(kind, error, traceback)

    @staticmethod
    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: TextIO | None = None,
             line: str | None = None) -> None:
        print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr)
