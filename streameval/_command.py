"""What ``streameval evaluate`` and ``streameval watch`` share: option types, the data-error
exception, one-line messages and warnings, counted nouns."""

from __future__ import annotations

import argparse
import math
import sys
import warnings

import numpy as np

PROG = "streameval"


class CliError(Exception):
    """A data error: printed as one line on stderr, exit code 1."""


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


def label_option(text: str):
    """An argparse type: a label, read as a file's value is read (``"1.0"`` is the label 1)."""
    from ._columns import canonical_label

    try:
        return canonical_label(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: {e}") from None


def plain(value) -> str:
    """A number or label as a user wrote it: 2.0, -1, 'cat' (never np.float64(2.0))."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def short(value, width: int = 60) -> str:
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

    def __enter__(self):
        self.context = warnings.catch_warnings()
        self.context.__enter__()
        warnings.simplefilter("once")
        # what Python hides by default stays hidden: it speaks to developers, not to users
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)
        warnings.showwarning = self.show
        self.unraisable, sys.unraisablehook = sys.unraisablehook, lambda unraisable: None
        return self

    def __exit__(self, *exc):
        sys.unraisablehook = self.unraisable
        return self.context.__exit__(*exc)

    @staticmethod
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr)
