"""The authorization request of delegated OAuth (RFC 6749 §4.1.1 with PKCE, RFC 7636), as
plain functions: what an operator may grant, checking a request, building the redirect back.

An operator grants an app at most what their console role allows:

    role       may grant
    viewer     read:enrollments read:completions read:scores read:badges
    operator   the viewer's, and read:profile read:activity:aggregate write:badge
    admin      every scope, admin included

so the scopes granted are those asked for ∩ the app's registered scopes ∩ the role's
(`granted_scopes`); a request that would be granted none is refused. A request is checked in
the order RFC 6749 §4.1.2.1 asks for: a bad `client_id` or `redirect_uri` is answered on the
page (never redirected: the endpoint must not be an open redirector); everything else is sent
back to the registered redirect URI with `error`, `state` and `iss` (RFC 9207).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from projections.errors import AuthorizeError
from projections.scopes import PROFILE, RECORD_SCOPES, SCOPES, UNION, effective_scopes
from projections.store.oauth import OAuthApp

_VIEWER = tuple(RECORD_SCOPES)
ROLE_SCOPES: Mapping[str, tuple[str, ...]] = {
    "viewer": _VIEWER,
    "operator": (*_VIEWER, PROFILE, UNION, "write:badge"),
    "admin": SCOPES,
}
# RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters; §4.1: unreserved characters
CHALLENGE = re.compile(r"[A-Za-z0-9._~-]{43,128}", re.ASCII)
PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
          "code_challenge_method")  # fmt: skip
_MAX_STATE = 2048


@dataclass(frozen=True)
class AuthorizeRequest:
    """A checked authorization request: the app, where to answer, what it asks for."""

    app: OAuthApp
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str

    def params(self) -> dict[str, str]:
        """The request's parameters, as the consent form repeats them."""
        found = {
            "response_type": "code",
            "client_id": self.app.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(self.scopes),
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
        }
        if self.state is not None:
            found["state"] = self.state
        return found


def check_client(app: OAuthApp | None, query: Mapping[str, str]) -> tuple[OAuthApp, str]:
    """The live app and its exactly registered redirect URI, or a non-redirectable error."""
    if app is None or app.revoked:
        raise AuthorizeError("invalid_client", "unknown app", redirectable=False)
    uri = query.get("redirect_uri", "")
    if uri not in app.redirect_uris:  # exact string comparison (RFC 9700 §4.1.3)
        raise AuthorizeError(
            "invalid_request", "redirect_uri is not registered for this app", redirectable=False
        )
    return app, uri


def check_request(app: OAuthApp | None, query: Mapping[str, str]) -> AuthorizeRequest:
    """The checked request; AuthorizeError otherwise (redirectable once the app and URI are)."""
    app, uri = check_client(app, query)

    def refuse(code: str, message: str) -> AuthorizeError:
        return AuthorizeError(code, message, redirectable=True)

    if query.get("response_type") != "code":
        raise refuse("unsupported_response_type", "response_type must be code")
    if query.get("code_challenge_method") != "S256":  # RFC 7636 §4.4.1; plain is refused
        raise refuse("invalid_request", "PKCE is required, with code_challenge_method=S256")
    challenge = query.get("code_challenge", "")
    if not CHALLENGE.fullmatch(challenge):
        raise refuse("invalid_request", "code_challenge must be 43-128 unreserved characters")
    state = query.get("state")
    if state is not None and len(state) > _MAX_STATE:
        raise refuse("invalid_request", "state is too long")
    asked = tuple(dict.fromkeys(query.get("scope", "").split())) or app.scopes
    if not set(asked) <= effective_scopes(app.scopes):
        raise refuse("invalid_scope", f"this app may ask only for {' '.join(app.scopes)}")
    return AuthorizeRequest(app, uri, asked, state, challenge)


def granted_scopes(request: AuthorizeRequest, role: str) -> tuple[str, ...]:
    """What an operator of this role grants of the request (requested ∩ app's ∩ role's)."""
    allowed = effective_scopes(ROLE_SCOPES.get(role, ()))
    return tuple(s for s in request.scopes if s in allowed)


def redirect_with(uri: str, params: Mapping[str, str | None]) -> str:
    """The redirect URI with these parameters added to its query (RFC 6749 §4.1.2: the
    registered URI's own query is kept)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def error_redirect(request_uri: str, err: AuthorizeError, state: str | None, iss: str) -> str:
    """Where a redirectable error goes (RFC 6749 §4.1.2.1)."""
    params = {"error": err.code, "error_description": err.message, "state": state, "iss": iss}
    return redirect_with(request_uri, params)
