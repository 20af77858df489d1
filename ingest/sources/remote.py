"""WARC files from anywhere: local paths and globs, http(s):// and s3:// URLs, streamed.

Remote files are read through fsspec as seekable files of fixed-size range requests
(BLOCK bytes each, the next one fetched in the background while the current one is
parsed, at most MAX_BLOCKS held): never downloaded to disk first, memory bounded
whatever the file size, and the WARC reader can still seek back to resynchronise
after a damaged record. A failed read is retried (RETRIES, with backoff) from the
same byte; after that it raises RemoteError and the reader gives up on that file.

s3:// needs s3fs (`pip install 'ingest[s3]'`); credentials come from the usual AWS
environment (variables, ~/.aws, instance role).
"""
from __future__ import annotations

import glob
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, BinaryIO, Self
from urllib.parse import urlsplit

log = logging.getLogger(__name__)
logging.getLogger("fsspec").setLevel(logging.WARNING)  # it logs every block fetch at INFO: not ours to show

# bytes per range request (smaller: steadier on slow links)
BLOCK = int(os.environ.get("INGEST_REMOTE_BLOCK") or 8 << 20)
MAX_BLOCKS = 3  # blocks held: the current one, the next (prefetched), one to seek back into
RETRIES = 3
BACKOFF = 0.5  # seconds before the first retry, doubled each time
IDENTITY_PREFIX = 65536
REMOTE_SCHEMES = ("http", "https", "s3")


class RemoteError(OSError):
    """A remote file cannot be opened or read; the message is one line and names the URL."""


def is_remote(location: str) -> bool:
    return urlsplit(location).scheme.lower() in REMOTE_SCHEMES


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def filesystem(scheme: str, user_agent: str | None, timeout: float) -> Any:
    import fsspec

    if scheme == "s3":
        try:
            import s3fs  # noqa: F401
        except ImportError:
            raise RemoteError("s3:// needs s3fs: pip install 'ingest[s3]'") from None
        return fsspec.filesystem("s3")
    import aiohttp

    limits = aiohttp.ClientTimeout(total=None, sock_connect=min(timeout, 30.0), sock_read=timeout)
    client: dict[str, Any] = {"timeout": limits}
    if user_agent:
        client["headers"] = {"User-Agent": user_agent}
    return fsspec.filesystem("http", client_kwargs=client)


def expand(locations: list[str]) -> list[str]:
    """Local paths and globs (sorted), URLs, and s3:// globs, in the order given.

    Raises RemoteError / FileNotFoundError with a one-line message: a glob that matches
    nothing, a missing local file, an unsupported scheme, s3:// without s3fs."""
    out: list[str] = []
    for loc in locations:
        scheme = urlsplit(loc).scheme.lower()
        if scheme in ("http", "https"):
            out.append(loc)
        elif scheme == "s3":
            fs = filesystem("s3", None, 60.0)
            if glob.has_magic(loc):
                found = sorted(fs.glob(loc))
                if not found:
                    raise FileNotFoundError(f"no WARC file matches {loc}")
                out += [f"s3://{p}" for p in found]
            else:
                out.append(loc)
        elif len(scheme) > 1 and "://" in loc:  # (a one-letter scheme is a Windows drive)
            raise RemoteError(f"{loc}: unsupported URL scheme {scheme!r} (local paths, http(s):// and s3:// are)")
        elif glob.has_magic(loc):
            found = sorted(p for p in glob.glob(loc, recursive=True) if os.path.isfile(p))
            if not found:
                raise FileNotFoundError(f"no WARC file matches {loc}")
            out += found
        elif not os.path.isfile(loc):
            raise FileNotFoundError(f"WARC file not found: {loc}")
        else:
            out.append(loc)
    return out


@dataclass
class RemoteInfo:
    size: int | None
    etag: str | None


class RemoteFile:
    """A seekable, read-only remote file that retries failed reads from the same byte.

    Just what the WARC readers call (read, seek, tell, close); `read(-1)` reads one
    block, not the whole file (nothing here should hold a whole archive in memory).
    """

    def __init__(self, url: str, *, user_agent: str | None = None, timeout: float = 60.0) -> None:
        self.url = url
        scheme = urlsplit(url).scheme.lower()
        self._fs = filesystem(scheme, user_agent, timeout)
        try:
            info = self._fs.info(url)
        except FileNotFoundError:
            raise RemoteError(f"{url}: not found (HTTP 404 or no such key)") from None
        except Exception as e:  # noqa: BLE001 - aiohttp, botocore, fsspec: any failure is "cannot open"
            raise RemoteError(f"{url}: cannot open: {one_line(e)}") from None
        size = info.get("size")
        etag = info.get("ETag") or info.get("etag")
        self.info = RemoteInfo(int(size) if size is not None else None, str(etag) if etag else None)
        if self.info.size is None:
            raise RemoteError(f"{url}: the server gives no size (Content-Length), so it cannot be read in ranges")
        self._pos = 0
        self._file: Any = None
        self._open()

    @property
    def size(self) -> int | None:
        return self.info.size

    def _open(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except Exception as e:  # noqa: BLE001 - closing a broken connection may fail too
                log.debug("%s: close failed: %s", self.url, one_line(e))
        extra = {"size": self.info.size} if urlsplit(self.url).scheme.lower() != "s3" else {}
        self._file = self._fs.open(self.url, "rb", block_size=BLOCK, cache_type="background",
                                   cache_options={"maxblocks": MAX_BLOCKS}, **extra)
        self._file.seek(self._pos)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = BLOCK
        delay = BACKOFF
        for attempt in range(RETRIES + 1):
            try:
                data: bytes = self._file.read(size)
                self._pos += len(data)
                return data
            except (FileNotFoundError, PermissionError) as e:
                raise RemoteError(f"{self.url}: gone while reading at byte {self._pos}: {one_line(e)}") from None
            except ValueError as e:  # fsspec: the server answered a range request with the whole file
                raise RemoteError(f"{self.url}: cannot read at byte {self._pos}: the server does not accept range "
                                  f"requests ({one_line(e)[:120]})") from None
            except Exception as e:  # noqa: BLE001 - connection resets, timeouts, 5xx: retried
                if attempt == RETRIES:
                    raise RemoteError(f"{self.url}: read failed at byte {self._pos} after {RETRIES} retries: "
                                      f"{one_line(e)}") from None
                log.warning("%s: read failed at byte %d (%s); retrying in %.1f s", self.url, self._pos, one_line(e),
                            delay)
                time.sleep(delay)
                delay *= 2
                try:
                    self._open()
                except Exception as reopen:  # noqa: BLE001 - the next attempt reports it
                    log.debug("%s: reopen failed: %s", self.url, one_line(reopen))
        raise AssertionError("unreachable")  # pragma: no cover

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self._pos
        elif whence == os.SEEK_END:
            offset += self.info.size or 0
        self._pos = max(0, offset)
        try:
            self._file.seek(self._pos)
        except (ValueError, OSError) as e:  # a streaming file (no ranges) cannot go back
            raise RemoteError(f"{self.url}: cannot seek to byte {self._pos}: {one_line(e)}") from None
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class WarcInput:
    """An opened WARC source: a seekable binary file, a name for log lines, size and identity."""

    fh: BinaryIO | RemoteFile
    name: str
    size: int
    identity: str

    def close(self) -> None:
        self.fh.close()


def identity_of(head: bytes, size: int) -> str:
    """sha256 of the first 64 KiB (16 hex digits) + "-" + size: the same for a local copy and its URL."""
    return f"{hashlib.sha256(head[:IDENTITY_PREFIX]).hexdigest()[:16]}-{size}"


def open_input(location: str | os.PathLike[str], *, user_agent: str | None = None, timeout: float = 60.0) -> WarcInput:
    """Open a local path or a URL for reading.

    Local: FileNotFoundError / IsADirectoryError / OSError with the path. Remote: RemoteError."""
    loc = os.fspath(location)
    if is_remote(loc):
        remote = RemoteFile(loc, user_agent=user_agent, timeout=timeout)
        try:
            head = remote.read(IDENTITY_PREFIX)
            remote.seek(0)
        except BaseException:
            remote.close()
            raise
        size = remote.size or 0
        return WarcInput(remote, loc, size, identity_of(head, size))
    try:
        fh = open(loc, "rb")  # noqa: SIM115 - closed by WarcInput.close
    except FileNotFoundError:
        raise FileNotFoundError(f"{loc}: WARC file not found") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{loc}: is a directory, not a WARC file") from None
    except OSError as e:
        raise OSError(f"{loc}: cannot read WARC file: {e.strerror or e}") from None
    size = os.fstat(fh.fileno()).st_size
    head = fh.read(IDENTITY_PREFIX)
    fh.seek(0)
    return WarcInput(fh, os.path.basename(loc) or loc, size, identity_of(head, size))
