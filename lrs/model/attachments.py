"""The attachment value shared by the xAPI attachment rules, the statement service and stores."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attachment:
    """An attachment's raw content, stored once per SHA-2 hash whatever statements use it."""

    sha2: str
    content_type: str
    content: bytes
