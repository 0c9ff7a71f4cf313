"""What ``streameval evaluate`` reads: the inputs named on its command line and a chunked reader
for each format. pyarrow is imported only when a file is read.

Inputs, each expanded to sources in a stable order:

- a file: its format from its extension (``FORMATS``), after a compression extension
  (``.gz``, ``.bz2``, ``.zst``: ``data.csv.gz``); ``--input-format`` names the format of a file
  whose name does not say (``data.txt``);
- ``-``: stdin, CSV unless ``--input-format`` says otherwise;
- a directory: a dataset, every file below it (Spark, Dask and pyarrow write such directories),
  in path order; names starting with ``.`` or ``_`` (``_SUCCESS``, ``.part-0.crc``) are skipped
  as Spark and pyarrow skip them, and files of an unknown type with a warning;
- a glob (``'data/*.parquet'``, ``'logs/**/*.jsonl.gz'``), expanded here, so that it works quoted
  and on any shell: its matches in path order, each a file or a directory as above.

Hive partitions: a Parquet file that lacks a column takes it from a ``key=value`` directory in its
path (``data/model=a/part-0.parquet`` has the column ``model``, the text ``a``), as pyarrow reads
a hive-partitioned dataset; a column the file holds is read from the file.

Compression (CSV, TSV and JSON Lines; ``--compression``): by default from the extension, else
from the first bytes (the gzip, bzip2 and zstd magic numbers), so compressed stdin needs no
option. Decompression streams through pyarrow's compressed input streams. Parquet and Arrow IPC
compress their own columns and are read from uncompressed, seekable files only.

Memory does not grow with the number of rows (``benchmarks/bench_cli_memory.py`` measures it).
What a hostile file can make it hold is bounded:

- a chunk is at most ``BATCH_ROWS`` rows; a CSV row at most ``CSV_BLOCK`` bytes (pyarrow's block);
  a JSON line at most ``--max-line-bytes`` (``streameval.limits.MAX_LINE_BYTES``, 1 MiB): a longer
  line is a bad row, skipped without being held;
- Parquet column chunks are read through a ``PARQUET_BUFFER``-byte buffer (no pre-buffering of
  whole row groups), and text label columns are read as dictionaries;
- a text label is at most ``--max-label-length`` characters (``streameval.limits.MAX_LABEL_LENGTH``,
  1024): a longer one is a bad row (``streameval._columns``).

A reader yields (record batch of the wanted columns, fraction of the input read or None, row
errors): row errors are None or (bad mask, reason(i)) for rows the reader itself could not parse.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import stat
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Optional
from urllib.parse import unquote

import numpy as np

from . import limits
from ._columns import SIMPLE_KINDS, check_column_types, kind_of, to_array
from ._command import CliError, counted, short

if TYPE_CHECKING:
    from .cli import Evaluation

RowErrors = tuple[np.ndarray, Callable[[int], str]]  # (bad mask, reason of row i) of rows a reader could not parse
Chunks = Iterator[tuple[Any, Optional[float], Optional[RowErrors]]]  # (record batch, fraction read, row errors)
Partition = tuple[tuple[str, Optional[str]], ...]

FORMATS = {
    ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet",
    ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow",
    ".jsonl": "jsonl", ".ndjson": "jsonl",
}
INPUT_FORMATS = ("csv", "tsv", "jsonl", "parquet", "arrow")
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\x28\xb5\x2f\xfd", "zstd"))
_SEEKABLE = ("parquet", "arrow")  # formats read from a file: their metadata is at the end
BATCH_ROWS = 65_536
CSV_BLOCK = 1 << 20
JSONL_BLOCK = 1 << 22
PARQUET_BUFFER = 1 << 20
STDIN = "stdin"


@dataclass(frozen=True)
class Source:
    """One input to read: a file, or stdin (path None)."""

    path: str | None
    name: str  # in messages: the file's name, its path within a directory or glob, or "stdin"
    format: str
    compression: str  # "auto" (extension, else first bytes), "none", "gzip", "bz2" or "zstd"
    partition: Partition = ()  # Parquet: (key, value) of the hive-style key=value directories in its path


# --- inputs ------------------------------------------------------------------------------------


def sources(inputs: Iterable[str], input_format: str | None = None, compression: str = "auto") -> list[Source]:
    """The sources of the command line's inputs, in order; CliError for an input that names none."""
    out: list[Source] = []
    for arg in inputs:
        if arg == "-":
            out.append(_source(None, STDIN, input_format or "csv", compression))
        elif os.path.isdir(arg):
            out += _directory(arg, input_format, compression)
        elif not os.path.lexists(arg) and re.search(r"[*?[]", arg):
            out += _glob(arg, input_format, compression)
        else:
            out.append(_source(arg, os.path.basename(arg), _format_of(arg, input_format), compression))
    return out


def _format_of(path: str, input_format: str | None) -> str:
    """The format a file's name says (after any compression extension), else input_format; CliError
    when neither says one."""
    fmt = _named_format(path, input_format)
    if fmt is not None:
        return fmt
    ext = _extension(path)
    raise CliError(f"{path}: unknown file type {ext or '(no extension)'!r}: expected one of {', '.join(FORMATS)} "
                   f"(compressed: {', '.join(COMPRESSIONS)}), or give --input-format")


def _named_format(path: str, input_format: str | None) -> str | None:
    """The format a file's name says, else input_format (None when that is not given either)."""
    return FORMATS.get(_extension(path), input_format)


def _extension(path: str) -> str:
    """The extension that names a file's format: ".csv" of data.csv and of data.csv.gz."""
    base, ext = os.path.splitext(path.lower())
    return os.path.splitext(base)[1] if ext in COMPRESSIONS else ext


def _source(path: str | None, name: str, fmt: str, compression: str) -> Source:
    if fmt in _SEEKABLE:
        if path is None:
            raise CliError(f"stdin: {fmt} input needs a file that can be read at any position: save it to a file")
        if compression != "auto" or os.path.splitext(path.lower())[1] in COMPRESSIONS:
            raise CliError(f"{name}: a compressed {fmt} file is not read (the format compresses its columns itself): "
                           "decompress it first" + ("" if compression == "auto" else ", or drop --compression"))
    return Source(path, name, fmt, compression,
                  _partition(os.path.dirname(path)) if fmt == "parquet" and path is not None else ())


def _directory(root: str, input_format: str | None, compression: str) -> list[Source]:
    """The files below root, in path order, as one dataset."""
    files = sorted(_walk(root), key=lambda path: os.path.relpath(path, root).split(os.sep))
    return _dataset(root, "the directory holds", files, input_format, compression)


def _glob(pattern: str, input_format: str | None, compression: str) -> list[Source]:
    """The files a glob matches, in path order; a directory it matches stands for the files below it."""
    import glob

    files: list[str] = []
    for path in sorted(glob.glob(pattern, recursive=True), key=lambda p: p.split(os.sep)):
        if os.path.basename(path).startswith((".", "_")):
            continue
        files += sorted(_walk(path), key=lambda p: p.split(os.sep)) if os.path.isdir(path) else [path]
    if not files:
        raise CliError(f"{pattern}: no file matches the pattern")
    return _dataset(pattern, "the pattern matches", files, input_format, compression)


def _walk(root: str) -> Iterator[str]:
    """The files below root, without names starting with "." or "_" (nor the directories below)."""
    for top, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        yield from (os.path.join(top, name) for name in names if not name.startswith((".", "_")))


def _dataset(where: str, holds: str, files: list[str], input_format: str | None, compression: str) -> list[Source]:
    """Sources of the files of a known type; the others are skipped with a warning."""
    found: list[tuple[str, str]] = []
    unknown: list[str] = []
    for path in files:
        fmt = _named_format(path, input_format)
        if fmt:
            found.append((path, fmt))
        else:
            unknown.append(path)
    if unknown:
        names = ", ".join(os.path.basename(p) for p in unknown[:3])
        warnings.warn(f"{where}: skipped {counted(len(unknown), 'file')} of unknown type ({names}"
                      f"{', ...' if len(unknown) > 3 else ''}); --input-format names their format", stacklevel=3)
    if not found:
        raise CliError(f"{where}: {holds} no files to read (expected {', '.join(FORMATS)}, possibly compressed, "
                       "or --input-format)")
    return [_source(path, path, fmt, compression) for path, fmt in found]


def _partition(directory: str) -> Partition:
    """(key, value) of each hive-style key=value directory in a path; Hive's
    __HIVE_DEFAULT_PARTITION__ is a null."""
    out: list[tuple[str, str | None]] = []
    for part in directory.split(os.sep):
        if "=" in part and not part.startswith("="):
            key, value = part.split("=", 1)
            value = unquote(value)
            out.append((unquote(key), None if value == "__HIVE_DEFAULT_PARTITION__" else value))
    return tuple(out)


# --- byte streams --------------------------------------------------------------------------------


class _Stream(io.RawIOBase):
    """A readable raw stream over read(n) of a file, stdin or a decompressor, with bytes already
    read put back in front of the rest."""

    def __init__(self, read: Callable[[int], bytes], pushed: bytes = b""):
        self._read = read
        self._pushed = pushed

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = len(buffer)
        data, self._pushed = self._pushed[:n], self._pushed[n:]
        if len(data) < n:
            data += self._read(n - len(data))
        buffer[: len(data)] = data
        return len(data)


def _check_file(source: Source) -> None:
    assert source.path is not None  # a file, not stdin
    try:
        info = os.stat(source.path)
    except FileNotFoundError:
        raise CliError(f"{source.path}: no such file") from None
    except OSError as e:
        raise CliError(f"{source.path}: cannot read the file: {e.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise CliError(f"{source.path}: is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise CliError(f"{source.path}: is not a regular file (a pipe, device or socket): save it to a file first, "
                       "or pipe it to stdin as -")
    if info.st_size == 0 and source.format != "jsonl":
        raise CliError(f"{source.path}: the file is empty")


@contextlib.contextmanager
def _opened(source: Source) -> Iterator[tuple[Callable[[], int], int | None, io.BufferedReader]]:
    """(position(), size or None, byte stream of the decompressed data) of a text source: position
    and size are of the bytes as stored, for progress."""
    if source.path is None:
        if sys.stdin is None:
            raise CliError("stdin: there is no standard input")
        if sys.stdin.isatty():
            raise CliError("stdin is a terminal: pipe the data in (... | streameval evaluate - ...)")
        raw: IO[bytes] = sys.stdin.buffer
        size: int | None = None
        owned = False
    else:
        raw = open(source.path, "rb")  # noqa: SIM115 - closed below
        size, owned = os.fstat(raw.fileno()).st_size, True
    try:
        head = raw.read(4)
        compression = source.compression
        if compression == "auto":
            ext = os.path.splitext((source.path or "").lower())[1]
            compression = COMPRESSIONS.get(ext) or next((c for magic, c in _MAGIC if head.startswith(magic)), "none")
        stream = _Stream(raw.read, head)
        if compression != "none":
            import pyarrow as pa

            stream = _Stream(pa.CompressedInputStream(stream, compression).read)
        yield (raw.tell if size else lambda: 0), size, io.BufferedReader(stream, 1 << 16)
    finally:
        if owned:
            raw.close()


# --- readers -------------------------------------------------------------------------------------


def read_chunks(source: Source, ev: Evaluation) -> Chunks:
    """Yield (record batch with just ev.columns, fraction of the input read or None, row errors)."""
    if source.path is not None:
        _check_file(source)
    reader: Callable[[Source, Evaluation], Chunks] = {"csv": _read_csv, "tsv": _read_csv, "parquet": _read_parquet, "arrow": _read_arrow,
                                                      "jsonl": _read_jsonl}[source.format]
    return reader(source, ev)


def _name(name: Any) -> str:
    return name if isinstance(name, str) and name.isprintable() and len(name) <= 40 else short(name, 40)


def check_columns(where: str, names: Iterable[Any], columns: Sequence[str]) -> None:
    """CliError naming the file's columns when one of columns is missing or there twice."""
    names = list(names)
    missing = [c for c in columns if c not in names]
    if missing:
        shown = ", ".join(_name(n) for n in names[:20]) + (f", ... ({len(names)} columns)" if len(names) > 20 else "")
        raise CliError(f"{where}: no column {missing[0]!r}; the file's columns are: {shown or '(none)'}")
    for col in columns:
        if names.count(col) > 1:
            raise CliError(f"{where}: the file has {names.count(col)} columns named {col!r}: cannot tell which to read")


def _fraction(position: Callable[[], int], size: int | None) -> float | None:
    return None if not size else min(position() / size, 1.0)


def _csv_header(f: io.BufferedReader) -> tuple[bytes, int]:
    """(the bytes read from f, where its header row ends in them): the header is the first
    non-empty row (pyarrow skips empty lines), and a newline inside quotes does not end it."""
    data = b""
    start = 0  # where the current line begins
    while True:
        end = data.find(b"\n", start)
        while end >= 0:
            line = data[start:end].rstrip(b"\r")
            if data.count(b'"', 0, end) % 2 == 0:  # a newline outside quotes ends the row
                if line:
                    return data, end + 1
                start = end + 1
            end = data.find(b"\n", end + 1)
        if len(data) > CSV_BLOCK:  # unbalanced quotes (a literal " in a name): the first line
            end = data.find(b"\n", start)
            return data, (end + 1 if end >= 0 else len(data))
        more = f.read1(1 << 16)
        if not more:
            return data, len(data)
        data += more


def _read_csv(source: Source, ev: Evaluation) -> Chunks:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    delimiter = ev.args.delimiter or ("\t" if source.format == "tsv" else ",")
    read = pacsv.ReadOptions(block_size=CSV_BLOCK)
    invalid: list[Any] = []  # rows with the wrong number of fields, as pyarrow reports them (without a row number)

    def on_invalid(row: Any) -> str:
        invalid.append(row)
        return "skip"

    def check_invalid() -> None:
        if invalid and ev.args.on_bad_row == "error":
            row = invalid[0]
            raise CliError(f"{source.name}: a row has {row.actual_columns} field(s) where the header has "
                           f"{row.expected_columns}: {short(row.text)}")
        ev.rows += len(invalid)
        ev.skipped += len(invalid)
        invalid.clear()

    convert = pacsv.ConvertOptions(include_columns=ev.columns, column_types={c: pa.string() for c in ev.columns},
                                   strings_can_be_null=True)
    parse = pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid)
    with _opened(source) as (position, size, f):
        # The header is parsed from the bytes read so far, which are then read again in front of
        # the rest: stdin cannot be opened twice.
        data, end = _csv_header(f)
        names = pacsv.read_csv(io.BytesIO(data[:end]), read_options=read, parse_options=pacsv.ParseOptions(
            delimiter=delimiter, invalid_row_handler=lambda row: "skip")).column_names
        check_columns(source.name, names, ev.columns)
        reader = pacsv.open_csv(io.BufferedReader(_Stream(f.read, data), 1 << 16), read_options=read,
                                parse_options=parse, convert_options=convert)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as e:
                if "straddl" in str(e):
                    raise CliError(f"{source.name}: a row is longer than {CSV_BLOCK:,} bytes") from None
                raise
            check_invalid()
            yield batch, _fraction(position, size), None
        check_invalid()


def _read_parquet(source: Source, ev: Evaluation) -> Chunks:
    import pyarrow.parquet as pq

    # no pre-buffering: pyarrow would read whole row groups (every column chunk) at once
    options: dict[str, Any] = {"pre_buffer": False, "buffer_size": PARQUET_BUFFER}
    with pq.ParquetFile(source.path, **options) as pf:
        schema = pf.schema_arrow
    keys = dict(source.partition)
    check_columns(source.name, schema.names + [k for k in keys if k not in schema.names], ev.columns)
    present = [c for c in ev.columns if c in schema.names]
    check_column_types(source.name, schema, present, ev.label_columns)
    text = [c for c in present if c in ev.label_columns and kind_of(schema.field(c).type) in ("text", "bytes")]
    with pq.ParquetFile(source.path, read_dictionary=text, **options) as pf:  # text labels as dictionaries
        _check_decoded_size(source.name, pf.metadata, text, ev.max_length)
        total, done = max(pf.metadata.num_rows, 1), 0
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=present):
            done += batch.num_rows
            if len(present) < len(ev.columns):
                batch = _with_partition(batch, ev.columns, keys)
            yield batch, done / total, None


def _with_partition(batch: Any, columns: list[str], keys: dict[str, str | None]) -> Any:
    """batch with the columns it lacks filled from the partition keys (one dictionary entry each)."""
    import pyarrow as pa

    n = batch.num_rows
    arrays = [batch.column(c) if c in batch.schema.names else pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, np.int32)), pa.array([keys[c]], pa.string())) for c in columns]
    return pa.record_batch(arrays, names=columns)


def _check_decoded_size(where: str, meta: Any, columns: list[str], max_length: int) -> None:
    """CliError when a text label column decodes (by the file's metadata) to more bytes than rows
    of labels at most max_length characters long can take: a few kilobytes of compressed repeats
    would otherwise expand to gigabytes before any label is seen."""
    leaf = {meta.schema.column(j).path: j for j in range(meta.num_columns)}
    per_row = 4 * max_length + 16  # UTF-8 bytes, length prefix and levels
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        for col in columns:
            size = group.column(leaf[col]).total_uncompressed_size
            if size > group.num_rows * per_row + (1 << 20):
                raise CliError(f"{where}: column {col!r} decodes to {size:,} bytes for {group.num_rows:,} rows "
                               f"(row group {i}): labels longer than --max-label-length {max_length:,}")


def _read_arrow(source: Source, ev: Evaluation) -> Chunks:
    import mmap

    import pyarrow as pa

    # Batches are read in place from a memory map. Pages read stay in the process's resident set
    # until dropped: each chunk drops them once it is counted, so memory does not grow with the file.
    assert source.path is not None  # Arrow IPC is read from a file (_source refuses stdin)
    with open(source.path, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    reader_source = pa.BufferReader(pa.py_buffer(mapped))
    n: int | None
    batches: Iterable[Any]
    try:
        reader = pa.ipc.open_file(reader_source)
        n = reader.num_record_batches
        batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
    except pa.ArrowInvalid:
        reader_source.seek(0)
        reader = pa.ipc.open_stream(reader_source)
        n, batches = None, reader
    check_columns(source.name, reader.schema.names, ev.columns)
    check_column_types(source.name, reader.schema, ev.columns, ev.label_columns)
    drop = getattr(mmap, "MADV_DONTNEED", None) if hasattr(mapped, "madvise") else None  # (not on Windows)
    for i, batch in enumerate(batches):
        batch = batch.select(ev.columns)
        for start in range(0, batch.num_rows, BATCH_ROWS):  # a file's batches may be of any size
            yield batch.slice(start, BATCH_ROWS), None if n is None else (i + 1) / max(n, 1), None
            if drop is not None:
                mapped.madvise(drop)


def read_lines(f: IO[bytes], max_bytes: int) -> Iterator[bytes | None]:
    """Each non-blank line of f (bytes), or None for a line longer than max_bytes, which is read
    past in pieces and never held whole."""
    while True:
        line = f.readline(max_bytes + 1)
        if not line:
            return
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while True:
                rest = f.readline(1 << 16)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
        elif line.strip():
            yield line


def _read_jsonl(source: Source, ev: Evaluation) -> Chunks:
    max_bytes = limits.MAX_LINE_BYTES if ev.args.max_line_bytes is None else ev.args.max_line_bytes
    checked = False
    with _opened(source) as (position, size, f):
        lines: list[bytes | None] = []
        held = 0
        for line in read_lines(f, max_bytes):
            lines.append(line)
            held += 0 if line is None else len(line)
            if held >= JSONL_BLOCK or len(lines) >= BATCH_ROWS:
                batch, errors, names = _parse_json_lines(lines, ev.columns, max_bytes)
                if not checked and names is not None:
                    check_columns(source.name, names, ev.columns)
                    checked = True
                yield batch, _fraction(position, size), errors
                lines, held = [], 0
        if lines:
            batch, errors, names = _parse_json_lines(lines, ev.columns, max_bytes)
            if not checked and names is not None:
                check_columns(source.name, names, ev.columns)
            yield batch, None if size is None else 1.0, errors


def _parse_json_lines(lines: list[bytes | None], columns: list[str],
                      max_bytes: int) -> tuple[Any, RowErrors | None, list[str] | None]:
    """(record batch of columns, row errors or None, keys seen or None when no line was an object).

    pyarrow parses a block of flat objects fast; anything else (a bad line, nesting, a column whose
    type changes from line to line) is parsed line by line with json, where nesting deeper than
    Python's recursion limit is a bad row, not a crash (pyarrow's parser would overflow the stack).
    """
    import pyarrow as pa
    import pyarrow.json as pajson

    n = len(lines)
    whole = [line for line in lines if line is not None]
    if len(whole) == n:
        data = b"".join(whole)
        if data.count(b"[") == 0 and data.count(b"{") == n:  # n objects, none nested
            try:
                table = pajson.read_json(io.BytesIO(data), read_options=pajson.ReadOptions(
                    use_threads=False, block_size=len(data) + 1))
            except pa.ArrowInvalid:
                table = None
            keys: list[str] = [] if table is None else table.column_names
            if table is not None and table.num_rows == n and all(
                    kind_of(table.schema.field(c).type) in SIMPLE_KINDS for c in columns if c in keys):
                arrays = [to_array(table.column(c)) if c in keys else pa.nulls(n) for c in columns]
                return pa.record_batch(arrays, names=columns), None, keys
    texts: dict[str, list[str | None]] = {c: [None] * n for c in columns}
    bad = np.zeros(n, dtype=bool)
    reasons: dict[int, str] = {}
    names: dict[str, None] | None = None
    for i, line in enumerate(lines):
        try:
            if line is None:
                raise ValueError(f"the line is longer than --max-line-bytes {max_bytes:,}")
            try:
                record = json.loads(line)
            except RecursionError:
                raise ValueError("the line is nested too deeply") from None
            except ValueError:
                raise ValueError("the line is not valid JSON") from None
            if not isinstance(record, dict):
                raise ValueError(f"the line is a JSON {_json_type(record)}, not an object")
            if names is None:
                names = {}
            if len(names) < 1000:
                names.update(dict.fromkeys(record))
            for c in columns:
                value = record.get(c)
                if isinstance(value, (dict, list)):
                    raise ValueError(f"column {c!r} holds a JSON {_json_type(value)}, not a value")
                texts[c][i] = _json_text(value)
        except ValueError as e:
            bad[i] = True
            reasons[i] = str(e)
    arrays = [pa.array(texts[c], type=pa.string()) for c in columns]
    errors = (bad, reasons.__getitem__) if bad.any() else None
    return pa.record_batch(arrays, names=columns), errors, None if names is None else list(names)


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _json_text(value: Any) -> str | None:
    """A JSON value as the text a CSV would hold: labels and numbers then read alike in every format."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    return repr(value)
