"""Issue 14's speed targets and its first table, from the JSON of one or more benchmark runs.

    .venv/bin/python -m pytest benchmarks/test_bench_scores.py benchmarks/test_bench_streams.py \\
        benchmarks/test_bench_training.py benchmarks/test_bench_core.py \\
        -k "not test_interval and (not test_bench_core or binned)" --benchmark-only --benchmark-json=run1.json
    (repeat: run2.json, run3.json)
    .venv/bin/python benchmarks/issue14_targets.py run1.json run2.json run3.json

Each ratio is taken within one run (streameval and its reference measured minutes apart on a
shared machine are not comparable), then the median over the runs is printed, with the lowest
and highest run in brackets. Absolute targets (microseconds, samples per second) are the median
of the runs' medians. The training overheads are the paired figures (alternating rounds, see
test_bench_training.py) where the run recorded them. Prints two Markdown tables: the targets (met
or missed), and the issue's first table (input, streameval, numpy argmax + bincount, torchmetrics,
share of the read rate). A benchmark missing from every run (skipped: the feature is not there) prints as "n/a".
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable

Run = dict[str, tuple[float, int]]  # benchmark name -> (median seconds per call, samples per call)


def load(path: str) -> Run:
    with open(path) as f:
        data = json.load(f)
    run = {b["fullname"].split("::")[-1]: (b["stats"]["median"], b["extra_info"].get("samples", 1))
           for b in data["benchmarks"]}
    for b in data["benchmarks"]:  # the training benchmark's paired overhead (%), under "<name>#paired"
        for key, suffix in (("paired_overhead_pct", "#paired"), ("update_in_loop_us", "#inside")):
            if b["extra_info"].get(key) is not None:
                run[b["fullname"].split("::")[-1] + suffix] = (b["extra_info"][key], 0)
    return run


def rate(run: Run, name: str) -> float:
    """Samples per second."""
    seconds, samples = run[name]
    return samples / seconds


def micros(run: Run, name: str) -> float:
    return run[name][0] * 1e6


SCORES_1M = "test_1m_streameval[probabilities]"
LOGITS_1M = "test_1m_streameval[logits, from_logits=True]"
SCORES_IN = "test_imagenet_streameval[probabilities]"
LOGITS_IN = "test_imagenet_streameval[logits, from_logits=True]"
SEG = "test_segmentation_streameval"
SEG_FLAT = "test_segmentation_streameval_flattened_by_caller"
PLAIN = "test_update[plain Multiclass]"
STEP = "test_step_without_metrics"
STEPS = 20  # training steps per timed round (test_bench_training.STEPS)


def small(inputs: str) -> str:
    return f"test_small_streameval[{inputs}]"


def update(kind: str) -> str:
    return f"test_update[{kind}]"


def binned(threads: str) -> str:
    return f"test_binary_binned_streameval[{threads}]"


def ratio(a: str, b: str) -> Callable[[Run], float]:
    return lambda r: rate(r, a) / rate(r, b)


def cost(a: str, b: str) -> Callable[[Run], float]:
    """Time of a over time of b, per call."""
    return lambda r: micros(r, a) / micros(r, b)


def overhead(a: str) -> Callable[[Run], float]:
    """The paired figure (alternating rounds) where the run has it, else from the two medians."""
    def value(r: Run) -> float:
        if a + "#paired" in r:
            return r[a + "#paired"][0]
        return (micros(r, a) / micros(r, STEP) - 1) * 100
    return value


def unpaired(a: str) -> Callable[[Run], float]:
    return lambda r: (micros(r, a) / micros(r, STEP) - 1) * 100


# (target, value per run, format, met(value), command's -k)
TARGETS: list[tuple[str, Callable[[Run], float], str, Callable[[float], bool], str]] = [
    ("(1M, 10) f32 probabilities: >= 3x numpy argmax + bincount", ratio(SCORES_1M, "test_1m_numpy"), "{:.2f}x",
     lambda v: v >= 3, "test_bench_scores.py -k 1m"),
    ("(1M, 10) f32 probabilities: >= 0.5 of numpy's read rate (`max()`)", ratio(SCORES_1M, "test_1m_read[read_max]"),
     "{:.2f}", lambda v: v >= 0.5, "test_bench_scores.py -k 1m"),
    ("(1M, 10) f32 logits, `from_logits=True`: >= 3x numpy", ratio(LOGITS_1M, "test_1m_numpy"), "{:.2f}x",
     lambda v: v >= 3, "test_bench_scores.py -k 1m"),
    ("(1M, 10) f32 logits: >= 0.5 of the read rate", ratio(LOGITS_1M, "test_1m_read[read_max]"), "{:.2f}",
     lambda v: v >= 0.5, "test_bench_scores.py -k 1m"),
    ("(1M,) int64 labels: >= 3x `np.bincount`", ratio("test_1m_labels_streameval", "test_1m_labels_numpy"),
     "{:.2f}x", lambda v: v >= 3, "test_bench_scores.py -k 1m_labels"),
    ("(1M,) int64 labels: >= 0.5 of the read rate of both arrays",
     ratio("test_1m_labels_streameval", "test_1m_labels_read[read_max]"), "{:.2f}", lambda v: v >= 0.5,
     "test_bench_scores.py -k 1m_labels"),
    ("(4096, 1000) f32 probabilities: >= 2x numpy", ratio(SCORES_IN, "test_imagenet_numpy"), "{:.2f}x",
     lambda v: v >= 2, "test_bench_scores.py -k imagenet"),
    ("(4096, 1000) f32 logits: >= 2x numpy", ratio(LOGITS_IN, "test_imagenet_numpy"), "{:.2f}x", lambda v: v >= 2,
     "test_bench_scores.py -k imagenet"),
    ("(65536, 100) f32 probabilities (no target): x numpy argmax + bincount",
     ratio("test_hundred_streameval", "test_hundred_numpy"), "{:.2f}x", lambda v: True,
     "test_bench_scores.py -k hundred"),
    ("… share of the read rate (`max()`) (no target)",
     ratio("test_hundred_streameval", "test_hundred_read[read_max]"), "{:.2f}", lambda v: True,
     "test_bench_scores.py -k hundred"),
    ("(8, 21, 64, 64) logits, `from_logits=True`: >= 3x numpy `argmax(1)` + bincount",
     ratio(SEG, "test_segmentation_numpy"), "{:.2f}x", lambda v: v >= 3, "test_bench_scores.py -k segmentation"),
    ("… the same, flattened to (N·H·W, K) by the caller (no target; what works without rank support)",
     ratio(SEG_FLAT, "test_segmentation_numpy"), "{:.2f}x", lambda v: True, "test_bench_scores.py -k segmentation"),
    ("(256, 10) f32 probabilities, numpy arrays: <= 3 µs per update",
     lambda r: micros(r, small("numpy probabilities")), "{:.2f} µs", lambda v: v <= 3,
     "test_bench_scores.py -k small"),
    ("(256, 10) f32 probabilities, torch CPU tensors: <= 4 µs",
     lambda r: micros(r, small("torch CPU probabilities")), "{:.2f} µs", lambda v: v <= 4,
     "test_bench_scores.py -k small"),
    ("(256, 10) f32 logits, `from_logits=True`, numpy: <= 3 µs",
     lambda r: micros(r, small("numpy logits, from_logits=True")), "{:.2f} µs", lambda v: v <= 3,
     "test_bench_scores.py -k small"),
    ("(256, 10) f32 logits, `from_logits=True`, torch: <= 4 µs",
     lambda r: micros(r, small("torch CPU logits, from_logits=True")), "{:.2f} µs", lambda v: v <= 4,
     "test_bench_scores.py -k small"),
    ("`Windowed(100 x 256 samples, 10 buckets)`: <= 2x a plain update",
     cost(update("Windowed(100 x 256 samples, 10 buckets)"), PLAIN), "{:.2f}x", lambda v: v <= 2,
     "test_bench_streams.py -k test_update"),
    ("`Windowed(20 x 128 samples)` (every batch spans buckets): <= 2x",
     cost(update("Windowed(20 x 128 samples: every batch spans buckets)"), PLAIN), "{:.2f}x", lambda v: v <= 2,
     "test_bench_streams.py -k test_update"),
    ("`Windowed(10 updates, 5 buckets)`: <= 2x", cost(update("Windowed(10 updates, 5 buckets)"), PLAIN), "{:.2f}x",
     lambda v: v <= 2, "test_bench_streams.py -k test_update"),
    ("`Decayed(half_life=10000 samples)`: <= 2x", cost(update("Decayed(half_life=10000 samples)"), PLAIN), "{:.2f}x",
     lambda v: v <= 2, "test_bench_streams.py -k test_update"),
    ("`Decayed(half_life=10 updates)`: <= 2x", cost(update("Decayed(half_life=10 updates)"), PLAIN), "{:.2f}x",
     lambda v: v <= 2, "test_bench_streams.py -k test_update"),
    ("`Multiclass(10, bootstrap=200)`, 256 samples: <= 60 µs per update",
     lambda r: micros(r, update("Multiclass(bootstrap=200)")), "{:.0f} µs", lambda v: v <= 60,
     "test_bench_streams.py -k test_update"),
    ("training step (MLP, batch 256, one thread) + `Multiclass(10, from_logits=True)`: <= +5%",
     overhead("test_step_with_streameval[from_logits]"), "{:+.1f}%", lambda v: v <= 5, "test_bench_training.py"),
    ("… + `Multiclass(10)` given the logits as scores (no target)",
     overhead("test_step_with_streameval[logits_as_scores]"), "{:+.1f}%", lambda v: True, "test_bench_training.py"),
    ("… + torchmetrics accuracy + F1, `validate_args=False` (no target)",
     overhead("test_step_with_torchmetrics[no_validate_args]"), "{:+.1f}%", lambda v: True, "test_bench_training.py"),
    ("`Binary(bins=1024)`, 10M f32, two threads: >= 300M samples/s", lambda r: rate(r, binned("two threads")) / 1e6,
     "{:.0f}M/s", lambda v: v >= 300, "test_bench_core.py -k binned"),
    ("… one thread (no target; 122M/s in issue 4)", lambda r: rate(r, binned("one thread")) / 1e6, "{:.0f}M/s",
     lambda v: True, "test_bench_core.py -k binned"),
]

# Context lines: what a training step costs, and the same update measured alone.
CONTEXT: list[tuple[str, Callable[[Run], float], str]] = [
    ("training step alone, per step", lambda r: micros(r, STEP) / STEPS, "{:.0f} µs"),
    ("streameval `from_logits=True` overhead from the two benchmarks' medians (not paired)",
     unpaired("test_step_with_streameval[from_logits]"), "{:+.1f}%"),
    ("streameval `from_logits=True`: added per step in the loop (overhead x step)",
     lambda r: overhead("test_step_with_streameval[from_logits]")(r) / 100 * micros(r, STEP) / STEPS, "{:.1f} µs"),
    ("streameval `from_logits=True`: of which the update call itself, timed inside the loop",
     lambda r: r["test_step_with_streameval[from_logits]#inside"][0], "{:.1f} µs"),
    ("streameval `from_logits=True`: the same update alone",
     lambda r: micros(r, "test_update_alone[from_logits]") / STEPS, "{:.1f} µs"),
    ("streameval logits as scores: added per step in the loop (overhead x step)",
     lambda r: overhead("test_step_with_streameval[logits_as_scores]")(r) / 100 * micros(r, STEP) / STEPS,
     "{:.1f} µs"),
    ("streameval logits as scores: the same update alone",
     lambda r: micros(r, "test_update_alone[logits_as_scores]") / STEPS, "{:.1f} µs"),
    ("plain `Multiclass(10).update`, 256 int64 labels", lambda r: micros(r, PLAIN), "{:.2f} µs"),
]

# The issue's first table: input, streameval, numpy, torchmetrics, read (max) benchmark, per-update times.
ISSUE_TABLE = [
    ("(1M, 10)", LOGITS_1M, SCORES_1M, "test_1m_numpy", "test_1m_torchmetrics", "test_1m_read[read_max]",
     "test_1m_read[read_sum]", False),
    ("(4096, 1000)", LOGITS_IN, SCORES_IN, "test_imagenet_numpy", "test_imagenet_torchmetrics",
     "test_imagenet_read[read_max]", "test_imagenet_read[read_sum]", False),
    ("(8, 21, 64, 64)", SEG, SEG_FLAT, "test_segmentation_numpy",
     "test_segmentation_torchmetrics[MulticlassConfusionMatrix]", "test_segmentation_read[read_max]",
     "test_segmentation_read[read_sum]", False),
    ("(256, 10)", small("numpy logits, from_logits=True"), small("numpy probabilities"), "test_small_numpy",
     "test_small_torchmetrics", "test_small_read[read_max]", "test_small_read[read_sum]", True),
]


def summarize(runs: list[Run], value: Callable[[Run], float], fmt: str) -> tuple[float | None, str]:
    values = []
    for run in runs:
        try:
            values.append(value(run))
        except KeyError:  # skipped in this run
            pass
    if not values:
        return None, "n/a"
    mid = statistics.median(values)
    text = fmt.format(mid)
    if len(values) > 1:
        text += f" ({fmt.format(min(values))} – {fmt.format(max(values))})"
    return mid, text


def main(paths: list[str]) -> None:
    runs = [load(p) for p in paths]
    print(f"{len(runs)} run(s): median (lowest – highest run)\n")
    print("| target | measured | status | command: `.venv/bin/python -m pytest benchmarks/… --benchmark-only` |")
    print("|---|---|---|---|")
    for name, value, fmt, met, command in TARGETS:
        mid, text = summarize(runs, value, fmt)
        status = "n/a" if mid is None else ("met" if met(mid) else "**missed**")
        if "no target" in name and mid is not None:
            status = ""
        print(f"| {name} | {text} | {status} | `{command}` |")
    print()
    for name, value, fmt in CONTEXT:
        print(f"- {name}: {summarize(runs, value, fmt)[1]}")
    print("\n| input | streameval (logits) | streameval (probabilities / flattened) | numpy `argmax` + `bincount` "
          "| torchmetrics, validate_args=False | share of the read rate (`max()`) | share of `sum()`'s rate |")
    print("|---|---|---|---|---|---|---|")
    for label, logits, scores, numpy_, torch_, read, read_sum, per_update in ISSUE_TABLE:
        if per_update:
            cell: Callable[[str], str] = lambda k: summarize(runs, lambda r: micros(r, k), "{:.2f}")[1] + " µs"
        else:
            cell = lambda k: summarize(runs, lambda r: rate(r, k) / 1e6, "{:.3g}")[1]
        share = lambda k, rd: summarize(runs, ratio(k, rd), "{:.2f}")[1]
        print(f"| {label} | {cell(logits)} | {cell(scores)} | {cell(numpy_)} | {cell(torch_)} "
              f"| {share(logits, read)} / {share(scores, read)} "
              f"| {share(logits, read_sum)} / {share(scores, read_sum)} |")
    print("\n(M samples/s, except (256, 10): µs per update. Shares: logits / probabilities.)")


if __name__ == "__main__":
    main(sys.argv[1:])
