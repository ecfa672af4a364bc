"""Typed reads of environment variables: the one place any package's settings read them.

Every package's settings module builds its frozen settings from an `Env`; a value that does not
parse is a `ConfigError` naming the variable, raised at start-up rather than on first use.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from lrs.errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)


class Env:
    """A snapshot of the environment (or of a mapping tests hand in), read by typed getters."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._values = dict(os.environ if environ is None else environ)

    def snapshot(self) -> dict[str, str]:
        """A copy of the variables, so several settings classes read the same values."""
        return dict(self._values)

    def text(self, name: str, default: str) -> str:
        """The value as set (even empty), else `default`."""
        return self._values.get(name, default)

    def optional(self, name: str) -> str | None:
        """The value, or None when unset or empty."""
        return self._values.get(name) or None

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        """A whole number; `default` when unset or empty."""
        raw = self._values.get(name, "")
        if raw == "":
            return default
        if not _INTEGER.fullmatch(raw.strip()):
            raise ConfigError(_not_an_integer(name, raw))
        value = int(raw)
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        return value

    def number(self, name: str, default: float) -> float:
        """A decimal number; `default` when unset or empty."""
        raw = self._values.get(name)
        if not raw:
            return default
        try:
            return float(raw)
        except ValueError as exc:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from exc

    def choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        """One of `choices` (case-insensitive); `default` when unset or empty."""
        raw = self._values.get(name, "").strip().lower()
        if raw == "":
            return default
        if raw not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
        return raw

    def flag(self, name: str) -> bool:
        """true/false (also 1/0, yes/no, on/off); unset or empty is false."""
        raw = self._values.get(name, "").strip().lower()
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _not_an_integer(name: str, raw: str) -> str:
    """The message for a value that is not an integer in ASCII digits, saying which rule it
    broke when int() alone would have read it (other scripts' digits such as "٣", "1_0")."""
    try:
        int(raw)
    except ValueError:
        return f"{name} must be an integer, got {raw!r}"
    return f"{name} must be an integer written with the ASCII digits 0-9 only, got {raw!r}"
