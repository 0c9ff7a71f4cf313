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

Two more marks give columns of their own, shown only when a benchmark of the run sets them:

- ``extra_info["read"] = True`` (with ``reference=False``): numpy merely reading the input (the
  score matrix, say). The column "share of read" gives each streameval rate divided by that read
  rate, in samples per second: 1 would mean an update as fast as reading its input once.
- ``extra_info["baseline"] = True``: the group's baseline (a plain update that wrappers are
  compared with, or a training step without metrics). The column "time vs base" gives each
  other benchmark's time per sample divided by the baseline's, with the extra cost in percent:
  a Windowed update at "1.80x (+80%)" costs 1.8 plain updates; a training step with a metric at
  "1.04x (+4%)" adds 4% to the step. Where a benchmark also measured its extra cost against the
  baseline in alternating rounds (``extra_info["paired_overhead_pct"]``, steadier under a
  changing load), it follows as "paired: +x%".
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
        rows.append((bench.group or "", bench.name, info.get("role", ""), stats.median, info["samples"], unit, is_ref,
                     bool(info.get("read", False)), bool(info.get("baseline", False)),
                     info.get("paired_overhead_pct")))
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
    show_read = any(row[7] for row in rows)
    show_base = any(row[8] for row in rows)
    header += f" {'share of read':>13}" if show_read else ""
    header += f" {'time vs base':>15}" if show_base else ""
    gw = max([30] + [len(row[0]) for row in rows])
    nw = max([46] + [len(row[1]) for row in rows])
    tr.write_line(f"{'group':<{gw}} {'benchmark':<{nw}} {'median':>10} {'rate':>16}{header}")
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(row[0], []).append(row)
    for group, members in groups.items():
        ref: dict[str, float] = {}  # role -> the fastest rate (per sample) of its reference benchmarks
        read = base = None  # the read rate (samples/s) and the baseline's time per sample
        for _, _, role, median, n, _, is_ref, is_read, is_base, _ in members:
            if role in REFERENCE_ROLES and is_ref:
                ref[role] = max(ref.get(role, 0.0), n / median)
            if is_read:
                read = max(read or 0.0, n / median)
            if is_base:
                base = median / n
        for _, name, role, median, n, unit, _, is_read, is_base, paired in members:
            mine = n / median
            vs = [""] * len(roles)
            if role == "streameval":
                vs = [f"{mine / ref[r]:.2f}x" if r in ref else "" for r in roles]
            rate = f"{_rate(mine)} {unit}/s"
            cells = "".join(f" {v:>{max(9, len(r) + 3)}}" for v, r in zip(vs, roles))
            if show_read:
                share = f"{mine / read:.2f}" if role == "streameval" and read else ""
                cells += f" {share:>13}"
            if show_base:
                cost = ""
                if base and not is_base:
                    ratio = (median / n) / base
                    cost = f"{ratio:.2f}x ({(ratio - 1) * 100:+.0f}%)" if ratio < 3 else f"{ratio:.3g}x"
                cells += f" {cost:>15}"
                if paired is not None:
                    cells += f"  paired: {paired:+.1f}%"
            tr.write_line(f"{group:<{gw}} {name:<{nw}} {_time(median):>10} {rate:>16}{cells}")


@pytest.fixture(scope="session", autouse=True)
def warm_allocator():
    """Free one 24 MB block first, so that temporaries up to that size come from the heap.

    glibc serves a large malloc with a fresh mmap (page faults on every first touch) until a freed
    mmapped block raises its threshold, which then depends on whatever ran before in the process.
    Measured: torchmetrics' confusion matrix of 1M labels took 12.5 ms or 1.8 ms from one process
    to the next, on its 8 MB temporaries (numpy's argmax + bincount the same way). A training
    process is long past that point; every library here gets the warm allocator.
    """
    import numpy as np

    block = np.ones(3_000_000)  # 24 MB, under glibc's 32 MB ceiling for the dynamic threshold
    del block


@pytest.fixture(params=["all cores", "two threads", "one thread"])
def threads(request, monkeypatch):
    """Run a large-batch benchmark as it is, on two threads, and on the calling thread only.

    "all cores" is what a user gets: the batch is split over the cores the load average says are
    idle, so on a busy machine it may run on one thread. "two threads" splits every large batch
    in two whatever the load (the figure for the 2-core targets; it suffers when another process
    holds a core). "one thread" switches the split off.
    """
    from streameval import _threads

    if request.param == "one thread":
        monkeypatch.setattr(_threads, "threads_for", lambda n, minimum=0: 1)
    elif request.param == "two threads":
        least = getattr(_threads, "PARALLEL_MIN", 1 << 20)
        monkeypatch.setattr(_threads, "threads_for", lambda n, minimum=least: 2 if n >= minimum else 1)
    return request.param
