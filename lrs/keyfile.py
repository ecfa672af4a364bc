"""Secret keys kept outside the database, in files of the data directory.

Several packages need a key that must survive restarts but must not sit in the database
beside what it protects (the LTI master key, the SCORM commit-token key, the marketplace
token keys). Each file holds random bytes in base64url and is created on first use with mode
0600, written to a temporary name and linked into place, so concurrent first starts agree on
one key and nobody ever reads a half-written file.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import stat
from pathlib import Path

from lrs.errors import ConfigError

log = logging.getLogger(__name__)


def b64url(raw: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Decode unpadded base64url; ValueError when it is not."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def load_or_create_key(path: Path, *, purpose: str, size: int = 32) -> bytes:
    """The key in `path`, created with `size` random bytes when the file does not exist."""
    if not path.exists():
        _create(path, size, purpose)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "%s (%s) is readable by other users (mode %o); chmod 600 it", path, purpose, mode
        )
    try:
        key = unb64url(path.read_text().strip())
    except ValueError:
        raise ConfigError(f"{path} does not hold a {purpose} (base64url)") from None
    if len(key) < size:
        raise ConfigError(f"{path} holds a {purpose} shorter than {size} bytes")
    return key


def _create(path: Path, size: int, purpose: str) -> None:
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)  # the data directory is private (mkdir obeys the umask)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(b64url(secrets.token_bytes(size)) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)  # fails if another process created it first
            log.info("created the %s file %s (mode 0600)", purpose, path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)
