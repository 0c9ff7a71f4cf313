"""Checkpoints: an accumulator's bytes in a file, written so that a crash never leaves a bad one.

``save`` writes to a temporary file in the same directory, flushes it to disk (fsync), then
renames it over the target (atomic on POSIX and Windows) and syncs the directory, so the target
always holds either the previous checkpoint or the new one, whole. ``load`` reads with the safe
reader of serialization: a corrupt or truncated file raises SerializationError.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

from . import serialization


def save(obj, path) -> None:
    """Write obj.to_bytes() to path atomically (the file is created readable by its owner only)."""
    data = obj.to_bytes()
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_directory(directory)


def load(path):
    """The accumulator saved at path. SerializationError if the file is not a valid checkpoint."""
    with open(path, "rb") as f:
        return serialization.from_bytes(f.read())


def _sync_directory(directory: str) -> None:
    """Make the rename itself durable; not possible (nor needed) on every platform."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
