"""streameval starts in a fresh process from a read-only install, and ``python -m streameval.warmup`` runs.

Nothing here is timed (start-up times are in benchmarks/test_bench_coldstart.py). Both tests run
subprocesses with ``sys.executable``, from a temporary working directory.

The read-only scenario: numba (``cache=True``) caches next to the sources, in the package's
``__pycache__``. When that directory is not writable (a system-wide or container install), numba
must fall back to its per-user cache, ``$XDG_CACHE_HOME/numba``, silently. The test copies the
package, makes the copy read-only, and imports it first on PYTHONPATH with HOME and XDG_CACHE_HOME
in a writable temporary directory and NUMBA_CACHE_DIR unset.

root ignores file permissions, so a read-only directory does not stop root from writing into it.
When the test runs as root it runs the subprocess under ``setpriv`` with CAP_DAC_OVERRIDE,
CAP_DAC_READ_SEARCH and CAP_FOWNER dropped from the bounding set: still uid 0 (so it can reach an
interpreter under /root), but bound by the permission bits. Where setpriv is missing or not
allowed to do that, the subprocess runs as plain root: the test then only checks that the import
and update work, not where numba put its cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import streameval

PACKAGE = Path(streameval.__file__).resolve().parent
SCRIPT = (
    "import streameval, numpy as np; a = streameval.Multiclass(3); "
    "a.update(np.array([0,1,2]), np.array([0,2,2])); print(a.accuracy()); print(streameval.__file__)"
)
DROP_CAPS = ["--bounding-set", "-dac_override,-dac_read_search,-fowner"]
SUBPROCESS_TIMEOUT = 600  # seconds; a cold warmup compiles every signature (some 15-60 s)


def _set_modes(root: Path, dirs: int, files: int) -> None:
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        path.chmod(dirs if path.is_dir() else files)
    root.chmod(dirs)


def _unprivileged_prefix(scratch: Path) -> list[str] | None:
    """Command prefix under which the subprocess obeys file permissions; None if there is none.

    Not root: no prefix needed. root: setpriv without the capabilities that bypass permissions,
    if a probe shows that it then cannot write into a read-only directory.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    probe_dir = scratch / "probe"
    probe_dir.mkdir()
    probe_dir.chmod(0o555)
    try:
        probe = f"open({str(probe_dir / 'x')!r}, 'w')"
        result = subprocess.run([setpriv, *DROP_CAPS, sys.executable, "-c", probe], capture_output=True, timeout=60)
    finally:
        probe_dir.chmod(0o755)
    if result.returncode != 0 and b"PermissionError" in result.stderr:
        return [setpriv, *DROP_CAPS]
    return None


def _clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.pop("PYTHONPATH", None)
    env.update(overrides)
    return env


def _assert_clean_stderr(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "NumbaWarning" not in stderr, stderr


def test_read_only_package_uses_per_user_numba_cache(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    shutil.copytree(PACKAGE, site / "streameval", ignore=shutil.ignore_patterns("__pycache__"))
    home = tmp_path / "home"
    cache_home = home / ".cache"
    cache_home.mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    prefix = _unprivileged_prefix(tmp_path)
    env = _clean_env(PYTHONPATH=str(site), HOME=str(home), XDG_CACHE_HOME=str(cache_home))

    _set_modes(site / "streameval", dirs=0o555, files=0o444)
    try:
        # Twice: the first run compiles into the per-user cache, the second loads from it.
        for _ in range(2):
            proc = subprocess.run(
                [*(prefix or []), sys.executable, "-c", SCRIPT],
                env=env, cwd=work, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT,
            )
            assert proc.returncode == 0, proc.stderr
            accuracy, module_file = proc.stdout.split()
            assert float(accuracy) == pytest.approx(2 / 3)
            assert Path(module_file).resolve().parent == (site / "streameval").resolve()
            _assert_clean_stderr(proc.stderr)
        if prefix is not None:  # permissions were enforced: nothing next to the sources, the fallback was used
            assert not (site / "streameval" / "__pycache__").exists()
            assert list((cache_home / "numba").rglob("*.nbi")), "numba wrote no index to the per-user cache"
    finally:
        _set_modes(site / "streameval", dirs=0o755, files=0o644)


def test_warmup_module_runs(tmp_path):
    """``python -m streameval.warmup`` compiles every kernel signature into a cold cache and exits 0."""
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "streameval.warmup"],
        env=_clean_env(NUMBA_CACHE_DIR=str(cache)), cwd=tmp_path,
        capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "kernel signatures ready" in proc.stdout
    _assert_clean_stderr(proc.stderr)
    assert list(cache.rglob("*.nbi")), "warmup wrote nothing to NUMBA_CACHE_DIR"
