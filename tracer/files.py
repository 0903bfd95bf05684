"""The files a command reads and writes: only regular files read, every file written whole.

Reading (:func:`read_text`): the path is opened without blocking and checked with
``fstat`` on the open descriptor before a byte is read, so a FIFO (which would block
forever), a device such as ``/dev/zero`` (which never ends) or a directory is refused at
once, and a file larger than the caller's limit is refused before it is read. The path
``-`` is the standard input (``cat hw3.yaml | tracer solve -``), read once, up to the same
limit: asked for, a pipe is read to its end.

Writing (:func:`write_atomically`): the text goes to a temporary file in the target's own
folder, which then replaces the target in one ``os.replace``: an interrupted run leaves
the old file as it was, never half a file. A symbolic link is followed (the file it names
is replaced, the link kept); an existing target that is not a regular file (``/dev/null``,
``/dev/stdout``, a FIFO) is written to directly, as a shell redirection would. A missing
folder is created (as ``tracer quiz -o DIR`` always did).

Guarding (:func:`overwritten_input`): no output may be one of the command's input
files — the same path, the same file through a symbolic link, or the same inode (a hard
link). Only the standard library: :mod:`tracer.spec` reads through this module.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

#: what a non-regular file is, for the message that refuses it
_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


class FileRefused(ValueError):
    """A path cannot be read or written as asked; ``str(err)`` is the one-line reason (no path)."""


def kind_of(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


#: the path that names the standard input
STDIN = "-"
#: the standard input stream read already, if any (a second ``-`` would find it empty)
_stdin_read: object = None


def read_bytes(path: str | Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; :class:`FileRefused` otherwise.

    Opened with ``O_NONBLOCK`` so that opening a FIFO returns at once, then judged by
    ``fstat`` of that descriptor (no window between a check and the open). ``-`` is the
    standard input, read once (:func:`read_stdin`).
    """
    if os.fspath(path) == STDIN:
        return read_stdin(limit)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(os.fspath(path), flags)
    except FileNotFoundError:
        raise FileRefused("no such file") from None
    except IsADirectoryError:
        raise FileRefused("a directory, not a file") from None
    except OSError as err:
        raise FileRefused(f"cannot be read ({err.strerror or err.__class__.__name__})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{kind_of(info.st_mode)}, not a regular file; give the path of a file")
        if info.st_size > limit:
            raise FileRefused(f"{info.st_size:,} bytes is too large (at most {limit:,})")
        chunks, size = [], 0
        while True:  # a file that grows while it is read is still cut at the limit
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise FileRefused(f"more than {limit:,} bytes is too large")
        return b"".join(chunks)
    except OSError as err:
        raise FileRefused(f"cannot be read ({err.strerror or err.__class__.__name__})") from None
    finally:
        os.close(fd)


def read_stdin(limit: int) -> bytes:
    """The standard input to its end, at most ``limit`` bytes; a second read is refused."""
    global _stdin_read
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise FileRefused("no standard input to read")
    if stream is _stdin_read:
        raise FileRefused("the standard input was read already; give at most one input as -")
    _stdin_read = stream
    try:
        data = stream.read(limit + 1)
    except OSError as err:
        raise FileRefused(f"cannot be read ({err.strerror or err.__class__.__name__})") from None
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > limit:
        raise FileRefused(f"more than {limit:,} bytes is too large")
    return data


def read_text(path: str | Path, limit: int, encoding: str = "utf-8") -> str:
    """:func:`read_bytes` decoded; a file that is not text in ``encoding`` is refused with the byte's position."""
    data = read_bytes(path, limit)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        raise FileRefused(f"not {encoding.upper().replace('-SIG', '')} text (byte {err.start + 1})") from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomically(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    Returns the path written (the link's target when ``path`` is a symbolic link). Raises
    :class:`FileRefused` with the reason when it cannot (a folder in the way, no permission,
    a full disk); the old file, if any, is then unchanged and no temporary file is left.
    """
    given = Path(path)
    target = Path(os.path.realpath(path))  # a link: replace the file it names, keep the link
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        raise FileRefused(f"{_blocking_parent(given)} is a file, not a folder") from None
    except OSError as err:
        raise FileRefused(f"cannot write ({err.strerror})") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise FileRefused("a directory; give a file name")
    if info is not None and not stat.S_ISREG(info.st_mode):  # /dev/null, /dev/stdout, a FIFO: written as a shell would
        try:
            with open(target, "wb") as stream:
                stream.write(payload)
        except OSError as err:
            raise FileRefused(f"cannot write ({err.strerror})") from None
        return target
    if not target.parent.is_dir():
        make_folder(given.parent)
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as err:
        raise FileRefused(f"cannot write in {target.parent} ({err.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException as err:  # an interrupt (Ctrl-C) too: the old file stays, the temporary goes
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(err, OSError):
            raise FileRefused(f"cannot write ({err.strerror})") from None
        raise
    return target


def make_folder(folder: str | Path) -> bool:
    """Create ``folder`` and its parents when missing; True when it was created.
    :class:`FileRefused` names the part of the path that is a file, not a folder."""
    folder = Path(folder)
    if folder.is_dir():
        return False
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise FileRefused(f"{_blocking_parent(folder / 'x')} is a file, not a folder") from None
    except OSError as err:
        raise FileRefused(f"cannot create the folder {folder} ({err.strerror})") from None
    return True


def _blocking_parent(path: Path) -> Path:
    """The first ancestor of ``path`` that exists and is not a directory."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return path.parent


def same_file(a: str | Path, b: str | Path) -> bool:
    """Do two paths name one file: equal once links are resolved, or one inode (a hard link)?"""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def overwritten_input(outputs: Iterable[str | Path], inputs: Iterable[str | Path]) -> tuple[Path, Path] | None:
    """The first (output, input) pair naming the same file, or None. A regular file only: writing
    to ``/dev/null`` or ``/dev/stdout`` replaces nothing."""
    inputs = [Path(i) for i in inputs if i is not None]
    for out in outputs:
        if out is None or str(out) == "-":
            continue
        try:
            if os.path.exists(out) and not stat.S_ISREG(os.stat(out).st_mode):
                continue
        except OSError:
            continue
        for given in inputs:
            if same_file(out, given):
                return Path(out), given
    return None


__all__ = ["STDIN", "FileRefused", "read_stdin", "make_folder", "overwritten_input", "read_bytes", "read_text", "same_file", "write_atomically"]
