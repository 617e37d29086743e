"""The byte pipelines under an archive: compression, hashing and counting, in both directions.

gzip is written as independent members compressed on a thread pool (zlib releases the GIL), so it
uses every core like pigz and stays readable by `tar xzf` and Python's gzip module.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO, Protocol

import zstandard

from backups.errors import BackupError

BLOCK = 4 << 20
GZIP_LEVEL = 6
ZSTD_LEVEL = 3
SUFFIXES = {"gzip": ".tar.gz", "zstd": ".tar.zst", "none": ".tar"}


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class HashingWriter:
    """Writes through to a file while hashing and counting; `progress` sees the running total."""

    def __init__(self, sink: BinaryIO, progress: Callable[[int], None] | None = None) -> None:
        self._sink = sink
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._progress = progress

    def write(self, data: bytes) -> int:
        self._sink.write(data)
        self.sha256.update(data)
        self.size += len(data)
        if self._progress:
            self._progress(self.size)
        return len(data)


class HashingReader:
    def __init__(self, source: Readable, progress: Callable[[int], None] | None = None) -> None:
        self._source = source
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.sha256.update(data)
        self.size += len(data)
        if self._progress:
            self._progress(self.size)
        return data

    def drain(self) -> None:
        while self.read(BLOCK):
            pass

    def readable(self) -> bool:
        return True


class ParallelGzipWriter:
    def __init__(self, sink: Sink, level: int = GZIP_LEVEL, threads: int | None = None) -> None:
        self._sink = sink
        self._level = level
        self._threads = threads or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="gzip")
        self._pending: deque[Future[bytes]] = deque()
        self._buffer = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._buffer += data
        if len(self._buffer) >= BLOCK:
            self._submit(bytes(self._buffer))
            self._buffer.clear()
        return len(data)

    def _submit(self, block: bytes) -> None:
        self._pending.append(self._pool.submit(zlib.compress, block, self._level, 31))
        while len(self._pending) > self._threads * 2:
            self._sink.write(self._pending.popleft().result())

    def close(self) -> None:
        try:
            if self._buffer or not self._pending:
                self._submit(bytes(self._buffer))
            while self._pending:
                self._sink.write(self._pending.popleft().result())
        finally:
            self._pool.shutdown(cancel_futures=True)


class ZstdWriter:
    def __init__(self, sink: Sink, level: int = ZSTD_LEVEL) -> None:
        compressor = zstandard.ZstdCompressor(level=level, threads=-1)
        self._writer = compressor.stream_writer(sink, closefd=False)  # type: ignore[arg-type]

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._writer.write(data)

    def close(self) -> None:
        self._writer.flush(zstandard.FLUSH_FRAME)
        self._writer.close()


class PlainWriter:
    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._sink.write(bytes(data))
        return len(data)

    def close(self) -> None:
        pass


def compressing_writer(compression: str, sink: Sink) -> ParallelGzipWriter | ZstdWriter | PlainWriter:
    if compression == "gzip":
        return ParallelGzipWriter(sink)
    if compression == "zstd":
        return ZstdWriter(sink)
    if compression == "none":
        return PlainWriter(sink)
    raise BackupError(f"unknown compression {compression!r}")


class _Guarded:
    """Turns a decompressor's own exceptions into a BackupError naming the compressed stream."""

    def __init__(self, reader: Readable, compression: str) -> None:
        self._reader = reader
        self._compression = compression

    def read(self, size: int = -1) -> bytes:
        try:
            return self._reader.read(size)
        except BackupError:
            raise
        except (OSError, EOFError, zlib.error, zstandard.ZstdError) as exc:
            raise BackupError(f"the {self._compression} stream is damaged ({exc})") from exc

    def readable(self) -> bool:
        return True


def decompressing_reader(compression: str, source: Readable) -> Readable:
    if compression == "gzip":
        reader: Readable = gzip.GzipFile(fileobj=source, mode="rb")  # type: ignore[call-overload]
    elif compression == "zstd":
        dctx = zstandard.ZstdDecompressor()
        reader = dctx.stream_reader(source, read_across_frames=True)  # type: ignore[arg-type]
    elif compression == "none":
        reader = source
    else:
        raise BackupError(f"unknown compression {compression!r}")
    return _Guarded(reader, compression)
