"""The quick start example and README's code blocks run as written."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quickstart_runs():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "round trip OK" in result.stdout


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks
    exec(compile("\n".join(blocks), "README.md", "exec"), {})
