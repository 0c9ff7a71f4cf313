"""Run a piece of code in a subprocess under an address-space limit (resource.setrlimit).

A memory regression then fails the test that measures it, with MemoryError or a clear error,
instead of taking the machine. The child imports numpy, numba and streameval before the limit is
set, since their import alone maps hundreds of megabytes of address space.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

_PRELUDE = """
import resource, sys
import numpy, numba, streameval
limit = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
# the limit is on top of what the imports already mapped
used = 0
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("VmSize:"):
            used = int(line.split()[1]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (used + limit, hard))
"""


def run_limited(code: str, limit_bytes: int, timeout: float = 120, args: tuple = ()) -> subprocess.CompletedProcess:
    """Run code (a script) with at most limit_bytes of address space beyond its imports.

    Returns the completed process (stdout, stderr as text); the caller asserts on them.
    """
    script = _PRELUDE + "\nsys.argv = sys.argv[1:]\n" + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script, str(int(limit_bytes)), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)
