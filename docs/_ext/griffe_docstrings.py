"""A griffe extension for the API reference: streameval's docstrings are plain prose, read as Markdown.

Two things in them are not Markdown, and one is missing from the source:

- doctest examples (``>>>`` lines and their output) would render as nested block quotes: they
  become ``pycon`` code blocks;
- a reST literal-block marker (a paragraph ending in ``::`` before an indented block) shows as
  "::": it becomes ":" (the indented block is already a Markdown code block);
- methods that set ``__doc__`` at run time, or override without repeating the docstring
  (``ConfusionAccumulator.compute``, ``n_samples``), have none for griffe, which reads the source
  statically: they take the docstring of the same member in the nearest base class.
"""

from __future__ import annotations

import re

import griffe

_DOUBLE_COLON = re.compile(r"(\S)::$")


def _markdown(text: str) -> str:
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        if lines[i].lstrip().startswith(">>>"):
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            block = []
            while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
                block.append(lines[i][len(indent):])
                i += 1
            out += ([""] if out and out[-1].strip() else []) + [indent + "```pycon"]
            out += [indent + line for line in block] + [indent + "```", ""]
            continue
        line = lines[i]
        if _DOUBLE_COLON.search(line) and i + 1 < len(lines) and not lines[i + 1].strip():
            line = line[:-1]
        out.append(line)
        i += 1
    return "\n".join(out)


class PlainDocstrings(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _markdown(obj.docstring.value)

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        _inherit(pkg)


def _inherit(obj: griffe.Object) -> None:
    for member in obj.members.values():
        if member.is_alias:
            continue
        if member.is_class:
            for name, child in member.members.items():
                if child.is_alias or child.docstring is not None:
                    continue
                for base in member.mro():
                    found = base.members.get(name)
                    if found is not None and found.docstring is not None:
                        child.docstring = griffe.Docstring(found.docstring.value, parent=child)
                        break
        if member.is_module or member.is_class:
            _inherit(member)
