"""The token endpoint's rules: OAuth 2.0 client credentials with a JWT client assertion (RFC 6749
§4.4, RFC 7523 §2.2 and §3, LTI 1.3 Security Framework §4.1), and the bearer tokens it issues.

A client assertion is accepted when:
- its header `alg` is an asymmetric signature algorithm (RS/PS/ES 256-512): `none` and every HMAC
  algorithm are refused before any key is touched, so a public key can never serve as an HMAC
  secret, and the key it verifies with is an asymmetric key object, never bytes;
- `iss` and `sub` are both the tool's client id, and the signature verifies with the tool's key
  (registered, or from its JWK Set, picked by `kid`);
- `aud` is (or contains) the token URL the tool called (`lti.urls`);
- `exp` is not past, `iat` is not in the future (both with `clock_skew_seconds` of leeway), and
  `exp` is at most `assertion_max_seconds` ahead;
- its `jti` has not been used by that client before: `jti`s are recorded in the store until the
  assertion expires, so a replay is refused in every process;
- a `deployment_id` claim, when present, is one of the tool's registered deployments.

Every failure is `invalid_client` (RFC 7523 §3.2). The scopes granted are those requested that
the tool is registered for (all of them when `scope` is absent); none is `invalid_scope`.

Access tokens are JWTs signed RS256 with the platform key: `iss` and `aud` the platform issuer,
`sub` the client id, `tool` the tool id, `scope`, `iat`, `exp` (`token_seconds`), `jti`. They are
checked on every request, and the tool must still be registered.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from lrs.errors import InvalidToken, TokenRequired
from lti.errors import (
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    UnsupportedGrantType,
)
from lti.jwks import ToolKeys
from lti.platform import ALGORITHM, PlatformKeys
from lti.settings import LTISettings
from lti.store.base import RegistrationStore, ReplayStore, Tool

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLIENT_CREDENTIALS = "client_credentials"
ASSERTION_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
)
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
_REQUIRED = ["iss", "sub", "aud", "exp", "iat", "jti"]


@dataclass(frozen=True)
class AccessGrant:
    """What a valid bearer token allows: a tool, and its granted scopes."""

    tool: Tool
    scopes: frozenset[str]


class TokenService:
    """Issues access tokens for client assertions and checks them on AGS requests."""

    def __init__(
        self,
        store: RegistrationStore,
        replays: ReplayStore,
        platform: PlatformKeys,
        tool_keys: ToolKeys,
        settings: LTISettings,
        *,
        issuer: str,
    ) -> None:
        self._store = store
        self._replays = replays
        self._platform = platform
        self._tool_keys = tool_keys
        self._settings = settings
        self._issuer = issuer

    async def issue(self, form: Mapping[str, str], *, token_url: str) -> dict[str, Any]:
        """The token response (RFC 6749 §5.1) for a token request's form fields."""
        grant_type = _field(form, "grant_type")
        if grant_type != CLIENT_CREDENTIALS:
            raise UnsupportedGrantType(f"grant_type must be {CLIENT_CREDENTIALS}")
        if _field(form, "client_assertion_type") != JWT_BEARER:
            raise InvalidClient(f"client_assertion_type must be {JWT_BEARER}")
        tool = await self.verify_assertion(_field(form, "client_assertion"), token_url=token_url)
        if form.get("client_id") not in (None, tool.client_id):
            raise InvalidClient("client_id does not match the client assertion")
        granted = _grant(form.get("scope"), tool)
        now = int(time.time())
        key = await self._platform.signing_key()
        claims = {
            "iss": self._issuer,
            "aud": self._issuer,
            "sub": tool.client_id,
            "tool": tool.id,
            "scope": " ".join(granted),
            "iat": now,
            "exp": now + self._settings.token_seconds,
            "jti": secrets.token_urlsafe(16),
        }
        token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self._settings.token_seconds,
            "scope": " ".join(granted),
        }

    async def verify_assertion(self, assertion: str, *, token_url: str) -> Tool:
        """The tool whose client assertion this is, per the module docstring's rules."""
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise InvalidClient("the client assertion is not a well-formed JWT") from exc
        alg = header.get("alg")
        if alg not in ASSERTION_ALGORITHMS:
            raise InvalidClient(
                f"client assertions signed with alg {alg!r} are refused; "
                f"use one of {' '.join(ASSERTION_ALGORITHMS)}"
            )
        client_id = unverified.get("iss")
        if not isinstance(client_id, str) or unverified.get("sub") != client_id:
            raise InvalidClient("iss and sub of the client assertion must both be the client id")
        tool = await self._store.find_tool(client_id)
        if tool is None:
            raise InvalidClient("unknown client id")
        if tool.disabled_at:
            raise InvalidClient("this tool is disabled on the platform")
        kid = header.get("kid")
        key = await self._tool_keys.key_for(tool, kid if isinstance(kid, str) else None)
        if key.alg is not None and key.alg != alg:
            raise InvalidClient(f"the tool's key is for {key.alg}, not {alg}")
        claims = self._decode(assertion, key.key, alg, token_url, client_id)
        await self._check_claims(claims, tool)
        return tool

    def _decode(self, assertion: str, key: Any, alg: str, token_url: str, client_id: str) -> dict:
        try:
            return jwt.decode(
                assertion,
                key,
                algorithms=[alg],
                audience=token_url,
                issuer=client_id,
                leeway=self._settings.clock_skew_seconds,
                options={"require": _REQUIRED},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidClient("the client assertion has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidClient("the client assertion is issued in the future") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidClient(f"the client assertion's aud must be {token_url}") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidClient(f"the client assertion lacks the {exc.claim} claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidClient("the client assertion's signature does not verify") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidClient(f"the client assertion is not valid: {exc}") from exc

    async def _check_claims(self, claims: dict[str, Any], tool: Tool) -> None:
        now = int(time.time())
        exp = claims["exp"]
        if not isinstance(exp, int | float) or exp > now + self._settings.assertion_max_seconds:
            raise InvalidClient(
                f"the client assertion's exp is more than {self._settings.assertion_max_seconds}"
                " seconds ahead"
            )
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti or len(jti) > 255:
            raise InvalidClient("the client assertion's jti must be a non-empty string")
        deployment = claims.get(DEPLOYMENT_CLAIM)
        if deployment is not None and deployment not in tool.deployment_ids:
            raise InvalidClient("the deployment_id is not one registered for this tool")
        expires = int(exp) + self._settings.clock_skew_seconds
        if not await self._replays.use_once(f"jti\n{tool.client_id}\n{jti}", expires):
            raise InvalidClient("this client assertion was used before (jti replayed)")

    async def verify(self, authorization: str | None) -> AccessGrant:
        """The grant behind an `Authorization: Bearer` header; InvalidToken otherwise."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenRequired("a bearer access token from /lti/token is required")
        key = await self._platform.signing_key()
        try:
            if jwt.get_unverified_header(token.strip()).get("kid") != key.kid:
                raise InvalidToken("the access token was not issued by this platform")
            claims = jwt.decode(
                token.strip(),
                key.private_key.public_key(),
                algorithms=[ALGORITHM],
                audience=self._issuer,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "scope"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the access token has expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("the access token is not valid") from exc
        tool = await self._store.get_tool(str(claims.get("tool")))
        if tool is None or tool.client_id != claims["sub"]:
            raise InvalidToken("the access token's tool is no longer registered")
        if tool.disabled_at:
            raise InvalidToken("the access token's tool is disabled")
        return AccessGrant(tool, frozenset(str(claims["scope"]).split()))


def _field(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise InvalidRequest(f"the token request lacks {name}")
    return value


def _grant(requested: str | None, tool: Tool) -> list[str]:
    """The requested scopes the tool is registered for, in the order asked."""
    if requested is None:
        return list(tool.scopes)
    granted = [s for s in dict.fromkeys(requested.split()) if s in tool.scopes]
    if not granted:
        raise InvalidScope(
            "none of the requested scopes is granted to this tool; "
            f"it may have {' '.join(tool.scopes)}"
        )
    return granted
