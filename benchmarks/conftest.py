"""Prints a throughput / ratio table at the end of a benchmark run.

Run: .venv/bin/python -m pytest benchmarks/ --benchmark-only

Every benchmark records in ``benchmark.extra_info`` a ``role`` ("streameval", "numpy",
"sklearn", "torchmetrics" or "torcheval"), ``samples`` (processed per call) and a ``unit``
("samples", or "calls" for per-call operations such as compute and merge, where samples is 1). The
table divides samples by the median time of a call, and compares streameval with the references
*of the same group*, per sample: sklearn may run on fewer samples than the others. A ratio above 1
means streameval is faster.

When a group holds several benchmarks of one reference role (torchmetrics with and without
argument validation, say), the ratio is taken against the fastest of them. A benchmark that is
shown for context but is no reference (numpy merely reading the inputs, a lower bound on any
update) sets ``extra_info["reference"] = False``. The columns of the roles that no benchmark of
the run used (torchmetrics and torcheval, usually) are left out.
"""

from __future__ import annotations

import pytest


def _rows(session):
    """(group, name, role, median seconds, samples per call, unit) of each finished benchmark."""
    rows = []
    for bench in getattr(session, "benchmarks", []):
        stats = getattr(bench, "stats", None)
        info = getattr(bench, "extra_info", None) or {}
        if stats is None or "samples" not in info:
            continue
        unit = info.get("unit", "samples")
        is_ref = bool(info.get("reference", True))
        rows.append((bench.group or "", bench.name, info.get("role", ""), stats.median, info["samples"], unit, is_ref))
    return rows


REFERENCE_ROLES = ("numpy", "sklearn", "torchmetrics", "torcheval")


def _rate(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def _time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own tables
def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)  # pytest-benchmark's session object
    rows = _rows(session) if session is not None else []
    if not rows:
        return
    tr = terminalreporter
    title = "streameval throughput (median per call; ratios per sample within a group, >1 = streameval faster)"
    tr.write_sep("=", title)
    roles = [r for r in REFERENCE_ROLES if r in ("numpy", "sklearn") or any(row[2] == r for row in rows)]
    header = "".join(f" {'vs ' + r:>{max(9, len(r) + 3)}}" for r in roles)
    tr.write_line(f"{'group':<30} {'benchmark':<46} {'median':>10} {'rate':>16}{header}")
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(row[0], []).append(row)
    for group, members in groups.items():
        ref: dict[str, float] = {}  # role -> the fastest rate (per sample) of its reference benchmarks
        for _, _, role, median, n, _, is_ref in members:
            if role in REFERENCE_ROLES and is_ref:
                ref[role] = max(ref.get(role, 0.0), n / median)
        for _, name, role, median, n, unit, _ in members:
            mine = n / median
            vs = [""] * len(roles)
            if role == "streameval":
                vs = [f"{mine / ref[r]:.2f}x" if r in ref else "" for r in roles]
            rate = f"{_rate(mine)} {unit}/s"
            cells = "".join(f" {v:>{max(9, len(r) + 3)}}" for v, r in zip(vs, roles))
            tr.write_line(f"{group:<30} {name:<46} {_time(median):>10} {rate:>16}{cells}")


@pytest.fixture(params=["all cores", "one thread"])
def threads(request, monkeypatch):
    """Run a large-batch benchmark as it is (idle cores) and again on the calling thread only."""
    if request.param == "one thread":
        from streameval import _threads

        monkeypatch.setattr(_threads, "threads_for", lambda n: 1)
    return request.param
