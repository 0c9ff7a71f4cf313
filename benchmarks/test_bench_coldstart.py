"""Start-up cost: ``import streameval`` and the first ``Multiclass.update``, in fresh processes.

    .venv/bin/python -m pytest benchmarks/test_bench_coldstart.py --benchmark-only -s

Every scenario runs the same script in a new interpreter (``sys.executable -c SCRIPT``), on a
private copy of the package (``shutil.copytree``, without ``__pycache__``) put first on
PYTHONPATH, so the numba cache of the working tree, which other people may be editing, is neither
used nor touched. The benchmark times the whole process (interpreter start, imports, first update,
exit); the script itself reports the import and the first update, which go into ``extra_info``.
All in group "cold start", printed as a summary at the end of the module.

- **warm**: ``python -m streameval.warmup`` was run once on the copy, so the first update only
  loads machine code from numba's cache (the copy's ``__pycache__``).
- **cold**: a fresh copy and an empty NUMBA_CACHE_DIR for every round: numba compiles the kernels
  that the first update needs (and writes them to that cache).
- **read-only, first run / second run**: the copy's directories and files are made read-only
  (0o555 / 0o444), NUMBA_CACHE_DIR and XDG_CACHE_HOME are unset and HOME is a temporary directory.
  numba cannot write next to the sources and falls back to its per-user cache,
  ``$HOME/.cache/numba``: the first run compiles into it (a new HOME every round), the second
  finds it there. Both must exit 0 with nothing on stderr (no traceback, no NumbaWarning). root
  ignores file permissions, so when run as root the script runs under ``setpriv`` with
  CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER dropped from the bounding set (it is still
  uid 0, so it can read the interpreter under /root); without setpriv the read-only scenario is
  only run as is, and its fallback cache is not checked.
- **baseline**: ``import numpy, numba`` in the same way, for context (no reference in the ratios).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import streameval

PACKAGE = Path(streameval.__file__).resolve().parent
GROUP = "cold start"
ROUNDS = 3

SCRIPT = """
import json, time
t0 = time.perf_counter()
import numpy as np
import streameval
t1 = time.perf_counter()
y_true = np.arange(1000, dtype=np.int64) % 10
y_pred = (y_true * 7) % 10
acc = streameval.Multiclass(10)
acc.update(y_true, y_pred)
t2 = time.perf_counter()
print(json.dumps({"file": streameval.__file__, "import_s": t1 - t0, "update_s": t2 - t1,
                  "accuracy": acc.accuracy()}))
"""

BASELINE_SCRIPT = """
import json, time
t0 = time.perf_counter()
import numpy, numba
print(json.dumps({"file": numba.__file__, "import_s": time.perf_counter() - t0, "update_s": 0.0}))
"""

DROP_CAPS = ["--bounding-set", "-dac_override,-dac_read_search,-fowner"]


def copy_package(root: Path) -> Path:
    """Copy streameval (without __pycache__) to root/streameval; returns root, for PYTHONPATH."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(PACKAGE, root / "streameval", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def make_read_only(root: Path) -> None:
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)


def make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def unprivileged_prefix() -> list[str]:
    """A command prefix under which root obeys file permissions; [] if not root or not possible."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return []
    probe_dir = Path(tempfile.mkdtemp(prefix="se-probe-"))
    try:
        probe_dir.chmod(0o555)
        probe = f"open({str(probe_dir / 'x')!r}, 'w')"
        result = subprocess.run([setpriv, *DROP_CAPS, sys.executable, "-c", probe], capture_output=True)
        return [setpriv, *DROP_CAPS] if result.returncode != 0 and b"PermissionError" in result.stderr else []
    finally:
        probe_dir.chmod(0o755)
        shutil.rmtree(probe_dir, ignore_errors=True)


def base_env(pythonpath: Path | None, **overrides: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NUMBA_CACHE_DIR", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_script(env: dict[str, str], cwd: Path, script: str = SCRIPT, prefix: list[str] = ()) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([*prefix, sys.executable, "-c", script], env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr}"
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out.update(wall_s=wall, stderr=proc.stderr)
    return out


@pytest.fixture(scope="module")
def workdir():
    path = Path(tempfile.mkdtemp(prefix="se-coldstart-"))
    yield path
    make_writable(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def summary():
    rows: dict[str, dict] = {}
    yield rows
    if rows:
        print("\n\ncold start summary (median of rounds; wall = whole process, as timed by the benchmark)")
        print(f"  {'scenario':<32} {'wall':>8} {'import':>8} {'1st update':>11}  rounds")
        for name, r in rows.items():
            print(f"  {name:<32} {r['wall_s']:>7.3f}s {r['import_s']:>7.3f}s {r['update_s']:>10.3f}s  {r['rounds']}")


def _time_rounds(benchmark, summary, name, make_args, rounds=ROUNDS):
    """Time run_script over `rounds` rounds; make_args() (untimed) returns its kwargs per round."""
    results: list[dict] = []

    def target(**kwargs):
        results.append(run_script(**kwargs))

    benchmark.group = GROUP
    benchmark.extra_info.update(role="streameval", samples=1, unit="calls", scenario=name)
    benchmark.pedantic(target, setup=lambda: ((), make_args()), rounds=rounds, iterations=1, warmup_rounds=0)
    row = {key: statistics.median(r[key] for r in results) for key in ("wall_s", "import_s", "update_s")}
    row["rounds"] = [[round(r["wall_s"], 3), round(r["import_s"], 3), round(r["update_s"], 3)] for r in results]
    benchmark.extra_info.update({k: round(v, 4) for k, v in row.items() if k != "rounds"}, rounds_wall_import_update_s=row["rounds"])
    summary[name] = row
    return results


def test_coldstart_baseline_import_numpy_numba(benchmark, summary, workdir):
    env = base_env(None)
    results = _time_rounds(benchmark, summary, "baseline: import numpy, numba",
                           lambda: {"env": env, "cwd": workdir, "script": BASELINE_SCRIPT})
    benchmark.extra_info["role"] = "python"
    benchmark.extra_info["reference"] = False
    assert all(r["stderr"].strip() == "" for r in results)


def test_coldstart_warm_cache(benchmark, summary, workdir):
    root = copy_package(workdir / "warm")
    env = base_env(root)
    warm = subprocess.run([sys.executable, "-m", "streameval.warmup"], env=env, cwd=workdir,
                          capture_output=True, text=True)
    assert warm.returncode == 0, warm.stderr
    benchmark.extra_info["warmup_output"] = warm.stdout.strip()
    results = _time_rounds(benchmark, summary, "warm numba cache", lambda: {"env": env, "cwd": workdir})
    for r in results:
        assert r["file"].startswith(str(root)), r["file"]
        assert r["stderr"].strip() == "", r["stderr"]


def test_coldstart_cold_cache(benchmark, summary, workdir):
    counter = iter(range(1000))

    def fresh():
        i = next(counter)
        root = copy_package(workdir / f"cold-{i}" / "src")
        cache = workdir / f"cold-{i}" / "numba-cache"
        cache.mkdir()
        return {"env": base_env(root, NUMBA_CACHE_DIR=str(cache)), "cwd": workdir}

    results = _time_rounds(benchmark, summary, "cold numba cache", fresh)
    for r in results:
        assert "/cold-" in r["file"], r["file"]
        assert r["stderr"].strip() == "", r["stderr"]


@pytest.fixture(scope="module")
def read_only_copy(workdir):
    root = copy_package(workdir / "read-only")
    make_read_only(root)
    return root, unprivileged_prefix()


def _read_only_args(workdir, root, prefix, home):
    env = base_env(root, HOME=str(home), XDG_CACHE_HOME=None)
    return {"env": env, "cwd": workdir, "prefix": prefix}


def _check_read_only(results, root, prefix, homes):
    enforced = os.geteuid() != 0 or bool(prefix)
    for r in results:
        assert r["file"].startswith(str(root)), r["file"]
        assert "Traceback" not in r["stderr"] and "Warning" not in r["stderr"], r["stderr"]
        assert r["stderr"].strip() == "", r["stderr"]
    if enforced:  # the per-user fallback cache was used, and nothing was written next to the sources
        assert not (root / "streameval" / "__pycache__").exists()
        for home in homes:
            assert list((home / ".cache" / "numba").rglob("*.nbi")), f"no numba index under {home}"


def test_coldstart_read_only_first_run(benchmark, summary, workdir, read_only_copy):
    root, prefix = read_only_copy
    homes: list[Path] = []

    def fresh():
        home = Path(tempfile.mkdtemp(prefix="home-", dir=workdir))
        homes.append(home)
        return _read_only_args(workdir, root, prefix, home)

    results = _time_rounds(benchmark, summary, "read-only pkg, 1st run", fresh)
    benchmark.extra_info["permissions_enforced_by"] = "setpriv" if prefix else ("uid" if os.geteuid() else "nothing (root)")
    _check_read_only(results, root, prefix, homes)


def test_coldstart_read_only_second_run(benchmark, summary, workdir, read_only_copy):
    root, prefix = read_only_copy
    home = Path(tempfile.mkdtemp(prefix="home-", dir=workdir))
    first = run_script(**_read_only_args(workdir, root, prefix, home))  # fills $HOME/.cache/numba, untimed
    results = _time_rounds(benchmark, summary, "read-only pkg, 2nd run", lambda: _read_only_args(workdir, root, prefix, home))
    benchmark.extra_info["first_run_wall_s"] = round(first["wall_s"], 4)
    _check_read_only([first, *results], root, prefix, [home])
