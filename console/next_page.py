"""Where the login page may send the operator afterwards (`next`): a console page of this
server, never another site.

Only a path under `/console/` is accepted: no scheme, no host, no `//` or `/\\` start (which
browsers read as another host), no backslash or control character anywhere. Anything else is
replaced by the dashboard, so the login form is not an open redirector.
"""

from __future__ import annotations

from urllib.parse import urlsplit

HOME = "/console/"
_PREFIX = "/console/"


def safe_next(value: str | None) -> str:
    """`value` if it is a local console path (with its query), else the dashboard."""
    if not value or not value.startswith(_PREFIX) or value.startswith("//"):
        return HOME
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return HOME
    return value
