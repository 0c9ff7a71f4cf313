"""numba's on-disk cache holds the kernels that factories build (per row length, per dtype): a
second process loads them and compiles nothing. (A closure holding a dispatcher or an intrinsic
with numba's default random UUID had a new cache key in every process: the short-row kernels were
compiled by each, each adding files to the cache. See _kernels.counting.named.)"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

# a batch for the short-row kernels (more rows than a scan), and a training step's tensors (read at addresses)
UPDATES = """
import numpy as np, torch, streameval
rng = np.random.default_rng(0)
y, s = rng.integers(0, 10, 600), rng.random((600, 10)).astype(np.float32)
acc = streameval.Multiclass(10)
acc.update(y, s)
acc.update(torch.from_numpy(y[:256]), torch.from_numpy(s[:256]))
acc.update(y, s.astype(np.float64))
"""


def _saved(cache_dir) -> list[str]:
    """The cache files a fresh process running UPDATES wrote (numba's debug lines)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "NUMBA_DEBUG_CACHE": "1"}
    done = subprocess.run([sys.executable, "-c", UPDATES], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return [line for line in (done.stdout + done.stderr).splitlines() if "data saved" in line]


def test_a_second_process_compiles_no_kernel(tmp_path):
    assert any("short_rows" in line for line in _saved(tmp_path))  # the first compiled them (the cache was empty)
    assert _saved(tmp_path) == []
