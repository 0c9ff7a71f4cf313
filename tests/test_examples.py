"""Every code example of README.md and of the docs runs as written, and so does the quick start script.

A page's ```python blocks run in order, in one namespace, in a fresh interpreter: each block's
code sits at its own line numbers in the script, so a traceback names the line of the page.
A block that needs an optional engine says so on the line before it, ``<!-- requires: torch -->``
(several names: ``<!-- requires: dask, distributed -->``), and is left out where one is missing;
it must then not define anything a later block of the page uses. ```bash and ```text blocks
show commands and output and are not run.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^([ \t]*)```([^\n`]*)\n", re.M)
REQUIRES = re.compile(r"<!--\s*requires:\s*([\w.,\s]+?)\s*-->\s*$")
# What a block may require: an importable module, or "spark" (pyspark and a Java it runs on).
KNOWN = {"torch", "dask", "distributed", "pandas", "pyarrow", "matplotlib", "sklearn", "scipy", "prometheus_client",
         "spark"}
NOT_RUN = {"bash", "text"}  # commands and their output


def python_blocks(text: str) -> list[tuple[int, str, list[str]]]:
    """(line number of the block's first code line, its code, what it requires) per python block."""
    blocks, pos = [], 0
    while (fence := FENCE.search(text, pos)) is not None:
        indent, language = fence[1], fence[2].strip()
        end = text.find(f"\n{indent}```", fence.end() - 1)
        assert end >= 0, f"an unclosed ``` fence at line {text.count(chr(10), 0, fence.start()) + 1}"
        first_line = text.count("\n", 0, fence.end()) + 1
        where = f"the ```{language} block at line {first_line - 1}"
        assert language == "python" or language in NOT_RUN, f"{where}: only ```python blocks run; use bash or text"
        if language == "python":
            assert not indent, f"{where} is indented, which this test would not run: put it at the margin"
            before = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1]
            marker = REQUIRES.search(before)
            requires = re.split(r"[\s,]+", marker[1]) if marker else []
            assert set(requires) <= KNOWN, f"{where} requires {requires}: not among {sorted(KNOWN)}"
            blocks.append((first_line, text[fence.end(): end + 1], requires))
        pos = end + len(indent) + 4
    return blocks


def missing(requirement: str) -> str | None:
    """Why a requirement is not met here, or None."""
    if requirement == "spark":
        from test_spark import _require_spark  # Spark's own skip rule: pyspark, pyarrow, pandas, Java 17

        try:
            _require_spark()
        except pytest.skip.Exception as skipped:
            return str(skipped)
        return None
    return None if importlib.util.find_spec(requirement) else f"{requirement} is not installed"


PAGES_WITH_CODE = [page for page in PAGES if python_blocks(page.read_text())]


def test_readme_and_the_guides_have_examples():
    names = {page.relative_to(ROOT).as_posix() for page in PAGES_WITH_CODE}
    assert {"README.md", "docs/guides/training.md", "docs/guides/monitoring.md", "docs/guides/distributed.md",
            "docs/metrics.md", "docs/semantics.md"} <= names


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_page_examples_run(page, tmp_path):
    text = page.read_text()
    lines = [""] * (text.count("\n") + 1)
    ran, left_out = 0, []
    for first_line, code, requires in python_blocks(text):
        reasons = [reason for reason in map(missing, requires) if reason]
        if reasons:
            left_out.append(f"line {first_line - 1}: {'; '.join(reasons)}")
            continue
        for offset, line in enumerate(code.splitlines()):
            lines[first_line - 1 + offset] = line
        ran += 1
    name = page.relative_to(ROOT).as_posix()
    if ran:
        script = tmp_path / name.replace("/", "_")
        script.write_text("\n".join(lines))
        # In a scratch directory: an example that writes a file writes it there.
        result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, f"{name} (line numbers are the page's):\n{result.stdout}\n{result.stderr}"
    if left_out:
        pytest.skip(f"{name}: {ran} block(s) ran and passed; {len(left_out)} left out: {' | '.join(left_out)}")


def test_block_finder_reads_requirements_and_refuses_hidden_code():
    page = ("text\n<!-- requires: torch, dask -->\n```python\nx = 1\n```\n\n```bash\nls\n```\n"
            "```python\ny = x\n```\n")
    assert python_blocks(page) == [(4, "x = 1\n", ["torch", "dask"]), (11, "y = x\n", [])]
    for hidden in ("```py\nx = 1\n```\n", "- item\n\n    ```python\n    x = 1\n    ```\n",
                   "<!-- requires: torhc -->\n```python\nx = 1\n```\n"):
        with pytest.raises(AssertionError):
            python_blocks(hidden)


def test_quickstart_runs():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "round trip OK" in result.stdout
