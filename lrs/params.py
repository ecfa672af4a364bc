"""Numeric request parameters, read as ASCII digits only.

Why: `str.isdigit()` is true for characters such as `²` that `int()` refuses (a 500), and
`int()` itself accepts other scripts' digits, signs, spaces and underscores that no client
means. Every HTTP layer (xAPI, LTI, SCORM, marketplace) reads its numbers through here.
"""

from __future__ import annotations

import re

_ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def is_ascii_digits(text: str) -> bool:
    """True when `text` is one or more of the characters 0-9 and nothing else."""
    return _ASCII_DIGITS.fullmatch(text) is not None


def ascii_int(text: str) -> int | None:
    """The non-negative integer `text` spells in ASCII digits, or None."""
    return int(text) if is_ascii_digits(text) else None
