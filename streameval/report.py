"""Classification report: the same table and dict as sklearn.metrics.classification_report."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

HEADERS = ("precision", "recall", "f1-score", "support")


class Report:
    """Per-class precision, recall, F1 and support, then the averages.

    ``str(report)`` is laid out exactly like scikit-learn's text report, ``to_dict()`` equals its
    ``output_dict=True`` form, and ``to_markdown()`` gives a table for notebooks and logs.
    """

    def __init__(self, rows: Iterable[tuple[Any, ...]], averages: Iterable[tuple[Any, ...]], digits: int = 2,
                 micro_is_accuracy: bool = True):
        if not (isinstance(digits, int) and digits >= 0):
            raise ValueError(f"digits={digits!r} is not valid: expected an integer >= 0")
        self.rows = [(name, float(p), float(r), float(f), _support(s)) for name, p, r, f, s in rows]
        self.averages = [
            ("accuracy" if avg == "micro" and micro_is_accuracy else f"{avg} avg", float(p), float(r), float(f), _support(s))
            for avg, p, r, f, s in averages
        ]
        self.digits = digits

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: dict(zip(HEADERS, map(float, values))) for name, *values in self.rows}
        for heading, *values in self.averages:
            out[heading] = values[0] if heading == "accuracy" else dict(zip(HEADERS, map(float, values)))
        return out

    def __str__(self) -> str:
        digits = self.digits
        width = max(max(len(name) for name, *_ in self.rows), len("weighted avg"), digits)
        head_fmt = "{:>{width}s} " + " {:>9}" * len(HEADERS)
        text = head_fmt.format("", *HEADERS, width=width) + "\n\n"
        row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
        for row in self.rows:
            text += row_fmt.format(*row, width=width, digits=digits)
        text += "\n"
        for heading, p, r, f, s in self.averages:
            if heading == "accuracy":
                fmt = "{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f}" + " {:>9}\n"
                text += fmt.format(heading, "", "", f, s, width=width, digits=digits)
            else:
                text += row_fmt.format(heading, p, r, f, s, width=width, digits=digits)
        return text

    def to_markdown(self) -> str:
        fmt = f"{{:.{self.digits}f}}"
        lines = ["| | precision | recall | f1-score | support |", "|---|---|---|---|---|"]
        for name, p, r, f, s in self.rows + self.averages:
            lines.append(f"| {name} | {fmt.format(p)} | {fmt.format(r)} | {fmt.format(f)} | {s} |")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def _support(s: Any) -> int | float:
    # Integer counts print as integers, weights as floats, as in scikit-learn.
    s = np.asarray(s).item()
    return int(s) if isinstance(s, (int, np.integer)) else float(s)
