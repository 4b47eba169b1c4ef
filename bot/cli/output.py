"""Writing a command's output file (`report --out`, `--chart`) safely.

A report is often written where other people can write too (a shared folder, /tmp), and read by
something else right away (a CI job, a wiki sync). So the file appears whole or not at all: the
bytes go to a temporary file in the same folder, are flushed to disk, and are renamed over the
target. A rename replaces a symbolic link at the target instead of following it, so a link
planted there cannot make us overwrite the file it points to. Anything that stops the write (no
such folder, a folder given as the file, a device, a full disk, no permission) is one line for
the person (`OutputError`), never a traceback, and leaves no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from playbook.domain.errors import PlaybookError


class OutputError(PlaybookError):
    """The output file could not be written; the message says why and where."""


def check_target(path: str) -> Path:
    """Refuse, before any work is done, a target that can never be written; return it."""
    target = Path(path)
    if not path or path.endswith(os.sep):
        raise OutputError(f"cannot write to {path!r}: give a file name, not a folder.")
    folder = target.parent
    if not folder.exists():
        raise OutputError(f"cannot write to {path}: the folder {folder} does not exist.")
    if not folder.is_dir():
        raise OutputError(f"cannot write to {path}: {folder} is not a folder.")
    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        return target
    except OSError as err:
        raise OutputError(f"cannot write to {path}: {_why(err)}.") from None
    if stat.S_ISDIR(mode):
        raise OutputError(f"cannot write to {path}: it is a folder; give a file name.")
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise OutputError(f"cannot write to {path}: it is not a regular file "
                          "(a device or a pipe); give a file name.")
    return target


def write_atomic(path: str, data: bytes) -> None:
    """Write `data` to `path` whole or not at all, never through a link at `path`."""
    target = check_target(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                   suffix=".tmp")
    except OSError as err:
        raise OutputError(f"cannot write to {path}: {_why(err)}.") from None
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        # mkstemp makes the file 0600; a report is an ordinary file (umask applies)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"cannot write to {path}: {_why(err)}.") from None


def _why(err: OSError) -> str:
    """The system's reason in words ("No space left on device"), without a traceback."""
    return (err.strerror or type(err).__name__).rstrip(".").lower()
