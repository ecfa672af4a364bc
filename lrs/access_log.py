"""The access log of `lrs serve`: aiohttp's, with secrets kept out of it.

A query string holding a `token` parameter (the console's one-time set-password link,
`/console/set-password?token=...`) is logged as `?[redacted]`: such a token is a credential,
and no credential is logged in clear (DESIGN.md, invariant 5). Every other line is exactly
aiohttp's; the check costs one substring test per request.
"""

from __future__ import annotations

from typing import Any

from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

SECRET_PARAMETER = "token="


class _Redacted:
    """A request as the log formatters read it, its query string hidden."""

    def __init__(self, request: BaseRequest) -> None:
        self._request = request
        self.path_qs = f"{request.path}?[redacted]"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


class AccessLog(AccessLogger):
    """aiohttp's access logger, redacting query strings that carry a token."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Log the line, the query string hidden when it holds a token."""
        if SECRET_PARAMETER in request.query_string:
            request = _Redacted(request)  # type: ignore[assignment]
        super().log(request, response, time)
