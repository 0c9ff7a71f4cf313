"""Issue 15's checks on a GPU, in one run of at most about 8 minutes:

    .venv/bin/python benchmarks/gpu_check.py            # on a machine with a CUDA GPU
    .venv/bin/python benchmarks/gpu_check.py --cpu      # smoke test without a GPU: small sizes, CPU timers

(a) the device tests (tests/test_device*.py, tests/test_torch_sync_device.py) with
    STREAMEVAL_TEST_DEVICE=cuda, which those files read to run on "cuda" (each device test file
    must honour it); then every kind's update on the GPU under
    ``torch.cuda.set_sync_debug_mode("error")``, which raises at any host synchronisation;
(b) update time against torchmetrics (validate_args=False) on the same GPU, in the same run:
    (256,) labels of 10 classes, (4096, 1000) logits, (8, 21, 512, 512) segmentation logits
    (CUDA events, warmup, median of repeats of a block of updates), and the step time of a small
    training loop without metrics, with streameval's and with torchmetrics' per-batch update;
(c) streameval.torch.sync over a 1-process nccl group (the device path: the counts summed in
    place on the GPU) and its time.

It prints a markdown table to paste into BENCHMARKS.md, headed by the card's name
(torch.cuda.get_device_name()). Not a test (no test_ prefix: pytest does not collect it); --cpu only
checks that the script runs (its figures are not benchmarks: the machine may be busy).
"""

from __future__ import annotations

import argparse
import datetime
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

import streameval

ROOT = Path(__file__).resolve().parent.parent


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", action="store_true", help="run on the CPU with small sizes (a smoke test)")
    parser.add_argument("--skip-tests", action="store_true", help="skip (a)'s pytest run")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per measurement")
    return parser.parse_args()


# --- timing ----------------------------------------------------------------------------------------


def timed(call: Callable[[], Any], device: str, inner: int, repeats: int, warmup: int = 3) -> float:
    """Median seconds per call over `repeats` blocks of `inner` calls, after `warmup` calls: CUDA
    events around each block on a GPU (the GPU time, launches included), perf_counter on the CPU."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeats):
        if device == "cuda":
            start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
            end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
            torch.cuda.synchronize()
            start.record()
            for _ in range(inner):
                call()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end) / 1000 / inner)
        else:
            began = time.perf_counter()
            for _ in range(inner):
                call()
            samples.append((time.perf_counter() - began) / inner)
    return float(statistics.median(samples))


def syncs(call: Callable[[], Any], device: str) -> str:
    """"no" when call() runs under set_sync_debug_mode("error") without a host sync, else "yes"."""
    if device != "cuda":
        return "n/a"
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        call()
    except RuntimeError as exc:
        return "yes" if "synchroniz" in str(exc) else f"error: {exc}"
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return "no"


# --- (a) the device tests, and updates under set_sync_debug_mode("error") --------------------------


def run_tests(device: str) -> str:
    files = sorted(glob.glob(str(ROOT / "tests" / "test_device*.py"))) + [str(ROOT / "tests" / "test_torch_sync_device.py")]
    print("note: each device test file must read STREAMEVAL_TEST_DEVICE (cpu, cuda) and run its accumulators there")
    env = {**os.environ, "STREAMEVAL_TEST_DEVICE": device}
    began = time.perf_counter()
    try:
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        tail = (result.stdout + result.stderr).strip().splitlines()[-1:]
        outcome = tail[0] if tail else f"exit {result.returncode}"
        if result.returncode:
            print(result.stdout[-6000:], result.stderr[-2000:])
    except subprocess.TimeoutExpired:
        outcome = "timed out after 300 s"
    print(f"(a) pytest on {device}: {outcome} ({time.perf_counter() - began:.0f} s)")
    return outcome


def inputs(device: str, cpu: bool) -> dict[str, tuple[Any, ...]]:
    """name -> (accumulator factory, torchmetrics factory, y_true, y_pred) for (b) and (a)'s sync check."""
    from torchmetrics.classification import MulticlassConfusionMatrix

    g = torch.Generator(device=device).manual_seed(0)
    n, k = (4096, 1000) if not cpu else (512, 100)
    seg = (8, 21, 512, 512) if not cpu else (2, 21, 64, 64)
    out: dict[str, tuple[Any, ...]] = {}
    out["(256,) labels, K=10"] = (
        lambda: streameval.Multiclass(10, device=device),
        lambda: MulticlassConfusionMatrix(10, validate_args=False).to(device),
        torch.randint(0, 10, (256,), device=device, generator=g), torch.randint(0, 10, (256,), device=device, generator=g))
    out[f"{(n, k)} logits"] = (
        lambda: streameval.Multiclass(k, from_logits=True, device=device),
        lambda: MulticlassConfusionMatrix(k, validate_args=False).to(device),
        torch.randint(0, k, (n,), device=device, generator=g), torch.randn((n, k), device=device, generator=g))
    out[f"{seg} segmentation logits"] = (
        lambda: streameval.Multiclass(seg[1], from_logits=True, device=device),
        lambda: MulticlassConfusionMatrix(seg[1], validate_args=False).to(device),
        torch.randint(0, seg[1], (seg[0], *seg[2:]), device=device, generator=g),
        torch.randn(seg, device=device, generator=g))
    return out


def sync_debug_updates(device: str, cases: dict[str, tuple[Any, ...]]) -> list[str]:
    """Every kind's update on the device under set_sync_debug_mode("error"): a line per case."""
    rng = np.random.default_rng(0)
    kinds: dict[str, tuple[Any, Any, Any]] = {
        "Binary(bins=64) scores": (lambda: streameval.Binary(bins=64, device=device),
                                   torch.from_numpy(rng.integers(0, 2, 1000)), torch.from_numpy(rng.random(1000))),
        "Binary(threshold=0.3) f32 scores, weighted": (
            lambda: streameval.Binary(threshold=0.3, weighted=True, device=device),
            torch.from_numpy(rng.integers(0, 2, 1000)), torch.from_numpy(rng.random(1000).astype(np.float32))),
        "Multilabel(5) scores": (lambda: streameval.Multilabel(5, device=device),
                                 torch.from_numpy(rng.integers(0, 2, (1000, 5))), torch.from_numpy(rng.random((1000, 5)))),
    }
    for name, (make, _, y_true, y_pred) in cases.items():
        kinds[f"Multiclass {name}"] = (make, y_true, y_pred)
    lines = []
    for name, (make, y_true, y_pred) in kinds.items():
        y_true, y_pred = y_true.to(device), y_pred.to(device)
        weight = torch.rand(y_true.shape[0], device=device, dtype=torch.float64) if "weighted" in name else None
        acc = make()
        first = syncs(lambda: acc.update(y_true, y_pred, sample_weight=weight), device)  # the first update
        later = syncs(lambda: [acc.update(y_true, y_pred, sample_weight=weight) for _ in range(3)], device)
        lines.append(f"| {name} | {first} | {later} |")
    print("(a) host syncs under set_sync_debug_mode('error') ('n/a' on the CPU)")
    print("| update | first update syncs | later updates sync |\n|---|---|---|")
    print("\n".join(lines))
    return lines


# --- (b) against torchmetrics -----------------------------------------------------------------------


def bench_updates(device: str, cases: dict[str, tuple[Any, ...]], repeats: int, cpu: bool) -> list[str]:
    rows = []
    for name, (make, make_tm, y_true, y_pred) in cases.items():
        ours, theirs = make(), make_tm()
        ours.update(y_true, y_pred)
        theirs.update(y_pred, y_true)
        inner = 20 if "labels" in name else 5
        t_ours = timed(lambda: ours.update(y_true, y_pred), device, inner, repeats)
        t_theirs = timed(lambda: theirs.update(y_pred, y_true), device, inner, repeats)
        same = np.array_equal(ours.confusion_matrix(), theirs.compute().cpu().numpy())  # both counted the same
        rows.append(f"| {name} | {t_ours * 1e6:,.0f} | {t_theirs * 1e6:,.0f} | {t_theirs / t_ours:.2f}x | "
                    f"{syncs(lambda: ours.update(y_true, y_pred), device)} | "
                    f"{syncs(lambda: theirs.update(y_pred, y_true), device)} | {'yes' if same else 'NO'} |")
        del ours, theirs
    return rows


def bench_training(device: str, repeats: int, cpu: bool) -> list[str]:
    from torchmetrics.classification import MulticlassConfusionMatrix

    torch.manual_seed(0)
    width, batch, k = (1024, 256, 10) if not cpu else (128, 256, 10)
    model = torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Linear(width, k)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(batch, width, device=device)
    y = torch.randint(0, k, (batch,), device=device)
    ours = streameval.Multiclass(k, from_logits=True, device=device)
    theirs = MulticlassConfusionMatrix(k, validate_args=False).to(device)

    def step(metric: Callable[[Any], None] | None) -> Callable[[], None]:
        def run() -> None:
            logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            if metric is not None:
                metric(logits.detach())
        return run

    times = {"no metrics": timed(step(None), device, 20, repeats),
             "streameval update": timed(step(lambda logits: ours.update(y, logits)), device, 20, repeats),
             "torchmetrics update": timed(step(lambda logits: theirs.update(logits, y)), device, 20, repeats)}
    base = times["no metrics"]
    return [f"| training step, MLP {width}-{width}-{k}, batch {batch}: {what} | {t * 1e6:,.0f} | "
            f"{'' if what == 'no metrics' else f'+{(t - base) * 1e6:,.0f}'} |" for what, t in times.items()]


# --- (c) sync over a 1-process nccl group ----------------------------------------------------------


def check_sync(device: str, repeats: int) -> list[str]:
    import torch.distributed as dist

    from streameval.torch import sync

    backend = "nccl" if device == "cuda" else "gloo"
    store = tempfile.mkdtemp()
    if device == "cuda":
        torch.cuda.set_device(0)
    dist.init_process_group(backend, init_method=f"file://{store}/store", rank=0, world_size=1,
                            timeout=datetime.timedelta(seconds=60))
    try:
        rng = np.random.default_rng(0)
        y_true, y_pred = rng.integers(0, 1000, 100_000), rng.integers(0, 1000, 100_000)
        accs = [streameval.Multiclass(1000, device=device), streameval.Binary(bins=256, device=device)]
        accs[0].update(y_true, y_pred)
        accs[1].update(y_true % 2, rng.random(100_000))
        expected = [acc.copy().to(None) for acc in accs]
        sync(accs)  # one rank: the sum is the counts themselves
        same = all((acc.copy().to(None) == host) for acc, host in zip(accs, expected))
        reads = syncs(lambda: sync(accs), device)
        t_device = timed(lambda: sync(accs), device, 5, repeats, warmup=1)
        hosts = [acc.copy().to(None) for acc in accs]
        t_host = timed(lambda: sync(hosts), device, 5, repeats, warmup=1)
    finally:
        dist.destroy_process_group()
    return [f"| sync over 1-process {backend}: Multiclass(1000) + Binary(bins=256) on {device} | {t_device * 1e6:,.0f} | "
            f"host counts: {t_host * 1e6:,.0f} | sum equal: {'yes' if same else 'NO'}; host sync: {reads} "
            "(the header's all_gather is read on the host) |"]


def main() -> None:
    args = parse()
    device = "cpu" if args.cpu else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --cpu for a smoke test")
    repeats = args.repeats or (3 if args.cpu else 15)
    card = torch.cuda.get_device_name() if device == "cuda" else "CPU (smoke test, not a benchmark)"
    import torchmetrics

    began = time.perf_counter()
    if not args.skip_tests:
        run_tests(device)
    cases = inputs(device, args.cpu)
    sync_debug_updates(device, cases)
    rows = bench_updates(device, cases, repeats, args.cpu)
    training = bench_training(device, repeats, args.cpu)
    synced = check_sync(device, repeats)
    print(f"\n### {card}: torch {torch.__version__}, torchmetrics {torchmetrics.__version__} "
          f"(validate_args=False), streameval {streameval.__version__}\n")
    print("| update (median per call) | streameval (us) | torchmetrics (us) | speed-up | streameval syncs | "
          "torchmetrics syncs | same counts |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n| training loop (median per step) | us | metric cost (us) |\n|---|---|---|")
    print("\n".join(training))
    print("\n| distributed | device counts (us) | | |\n|---|---|---|---|")
    print("\n".join(synced))
    print(f"\n(gpu_check ran in {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
