"""The SQLite file on disk: private modes, and one clear error when it cannot be opened.

The database and its `-wal` / `-shm` files hold credential hashes, encrypted secrets and every
statement, so the data directory is created 0700 and the database file 0600 (SQLite gives the
`-wal` and `-shm` files the database file's mode), whatever the umask, as the key files are
(`lrs.keyfile`). Files that already exist are not changed behind the operator's back: a start
with more open modes logs one WARNING naming them and the fix.

A file that is not a database, a truncated or corrupt one, or one another process holds locked
makes SQLite raise deep inside start-up; `open_error` turns that into one `StoreFileError`
naming the file and what to do, which the `lrs` command prints as one line (exit status 2).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from pathlib import Path

from lrs.errors import ConfigError

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
SIDE_FILES = ("-wal", "-shm")


class StoreFileError(ConfigError):
    """The SQLite file cannot be opened (corrupt, not a database, locked, unreadable)."""


def prepare_files(path: Path) -> None:
    """Create the data directory (0700) and the database file (0600) when missing; warn when
    what exists is readable by other users."""
    directory = path.parent
    if not directory.exists():
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask
    if not path.exists():
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:  # another process created it first
            pass
        else:
            os.fchmod(fd, FILE_MODE)  # the umask may have removed owner bits
            os.close(fd)
    warn_if_open(path)


def warn_if_open(path: Path) -> None:
    """One WARNING naming the data directory or database files other users can read."""
    candidates = [(path.parent, DIR_MODE)] + [
        (path.with_name(path.name + suffix), FILE_MODE) for suffix in ("", *SIDE_FILES)
    ]
    too_open = []
    for candidate, wanted in candidates:
        try:
            mode = stat.S_IMODE(candidate.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            too_open.append(f"chmod {wanted:o} {candidate} (mode is {mode:o})")
    if too_open:
        log.warning(
            "the SQLite store is readable by other users; it holds credential hashes and every "
            "statement: %s",
            "; ".join(too_open),
        )


def open_error(path: Path, exc: sqlite3.Error) -> StoreFileError:
    """The one-line error for a database SQLite could not open or set up."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StoreFileError(
            f"the database {path} is locked by another process ({text}): stop the process "
            "holding it (another `lrs serve`, a backup, an sqlite3 shell) and start again"
        )
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in text:
        return StoreFileError(
            f"cannot open the database {path} ({text}): check that the data directory "
            "exists and that this user may read and write it"
        )
    return StoreFileError(
        f"the database {path} is damaged or not an SQLite database ({text}): restore it "
        "from a backup, or move it aside to start with an empty store"
    )
