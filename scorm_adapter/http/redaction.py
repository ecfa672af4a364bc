"""Commit-URL tokens kept out of the logs: a token in a commit URL is a credential."""

from __future__ import annotations

import logging
import re
from typing import Any

_TOKEN_IN_PATH = re.compile(r"(/scorm/v1/commits/)[^\s?#\"']+")
_LOGGERS_SEEING_PATHS = ("aiohttp.access", "aiohttp.server", "aiohttp.web", "lrs.middlewares")


class RedactCommitTokens(logging.Filter):
    """Replaces commit-URL tokens in log records by `<token>`: a token is a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the message, its arguments and aiohttp's request-line field; keep the record."""
        record.msg = _redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        line = getattr(record, "first_request_line", None)
        if isinstance(line, str):
            record.first_request_line = _redacted(line)
        return True


def redact_commit_tokens() -> None:
    """Install RedactCommitTokens on the loggers that log request paths (once)."""
    for name in _LOGGERS_SEEING_PATHS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCommitTokens) for f in logger.filters):
            logger.addFilter(RedactCommitTokens())


def _redacted(value: Any) -> Any:
    if isinstance(value, str) and "/scorm/v1/commits/" in value:
        return _TOKEN_IN_PATH.sub(r"\1<token>", value)
    return value
