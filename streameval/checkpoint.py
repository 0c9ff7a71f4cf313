"""Checkpoints: an accumulator's bytes in a file, written so that a crash never leaves a bad one.

``save`` writes to a temporary file in the same directory, flushes it to disk (fsync), then
renames it over the target (atomic on POSIX and Windows) and syncs the directory, so the target
always holds either the previous checkpoint or the new one, whole. ``load`` reads with the safe
reader of serialization: a corrupt or truncated file raises SerializationError.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from typing import Any, Protocol

from . import limits, serialization
from .errors import SerializationError


class _Serializable(Protocol):
    """What save writes: an accumulator, a window, a decayed state... anything with to_bytes()."""

    def to_bytes(self) -> bytes: ...


def save(obj: _Serializable, path: str | os.PathLike[str]) -> None:
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


def load(path: str | os.PathLike[str]) -> Any:
    """The accumulator saved at path. SerializationError if the file is not a valid checkpoint.

    The first bytes are checked before the rest is read (a file that does not start with the
    magic bytes is refused at once), and no more than streameval.limits.MAX_PAYLOAD_BYTES are
    read: a device such as /dev/zero or an endless pipe is refused, not read until memory runs out.
    """
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) == 8:  # shorter: from_bytes says how short
            serialization.check_header(head)
        limit = limits.MAX_PAYLOAD_BYTES
        info = os.fstat(f.fileno())
        too_big = stat.S_ISREG(info.st_mode) and info.st_size > limit  # known without reading it
        data = bytearray(head)
        while not too_big and len(data) <= limit:  # a device or a pipe has no size: read up to the limit
            chunk = f.read(min(1 << 24, limit + 1 - len(data)))
            if not chunk:
                break
            data += chunk
        if too_big or len(data) > limit:
            raise SerializationError(f"{os.fspath(path)!r} holds more than streameval.limits.MAX_PAYLOAD_BYTES = "
                                     f"{limit:,} bytes: not a checkpoint this reader accepts")
        return serialization.from_bytes(data)


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
