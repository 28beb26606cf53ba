"""Files only their owner may read: the journal, paper state and clock, logs and locks.

    private_dir(path)          create `path` (and parents) as 0700; an existing one is set to 0700
    private_file(path)         create `path` empty as 0600 if missing (e.g. before SQLite opens it)
    append_private(path, text) append to a 0600 file (logs)
    write_atomic(path, text)   temp file (0600) -> fsync -> rename -> fsync of the folder, so a
                               crash leaves the old content or the new, never half of either

A data directory that is a file or cannot be written is bad input: InputError naming
PERPHEDGE_HOME (or the folder) and the fix.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from perphedge.errors import InputError

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, field: str = "PERPHEDGE_HOME") -> Path:
    """`path` as a folder only its owner can enter (InputError when it cannot be one)."""
    if path.exists() and not path.is_dir():
        raise InputError(field, str(path), "it is a file: point it at a folder")
    try:
        path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        path.chmod(DIR_MODE)
    except OSError as bad:
        raise InputError(field, str(path), f"cannot create it ({bad.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(field, str(path), "the folder is not writable: choose a writable one")
    return path


def private_file(path: Path) -> Path:
    """Create `path` (empty) as 0600 if it does not exist; tighten it if it does."""
    private_dir(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    os.close(fd)
    path.chmod(FILE_MODE)
    return path


def append_private(path: Path, text: str) -> None:
    """Append `text` to `path`, created 0600 in a 0700 folder."""
    private_dir(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, FILE_MODE)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(text)


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` by `text` atomically and durably (see the module docstring)."""
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable (best effort where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
