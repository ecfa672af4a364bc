"""Tools' public keys: a registered key (PEM or JWK), or the tool's JWK Set fetched over HTTP and
cached (LTI 1.3 Security Framework §6.3: a tool publishes its keys at a JWKS URL).

The cache keeps each JWK Set for `jwks_cache_seconds`; a `kid` not in the cached set triggers
one refetch, at most one such refetch every `REFETCH_SECONDS` per URL, so a tool that rotates its
key is picked up at once without letting made-up kids make the platform fetch on every request.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
import orjson
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from lti.errors import InvalidClient
from lti.store.base import Tool

log = logging.getLogger(__name__)

REFETCH_SECONDS = 10.0
MAX_JWKS_BYTES = 256 * 1024
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True)
class ToolKey:
    """One verification key: the key object, its kid and the alg it is limited to, if any."""

    key: Any
    kid: str | None
    alg: str | None


def parse_public_key(text: str) -> ToolKey:
    """A registered public key, PEM (SubjectPublicKeyInfo) or a JWK; ValueError when neither."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            jwk = json.loads(stripped)
            return _jwk(jwk)
        except (ValueError, jwt.PyJWTError) as exc:
            raise ValueError(f"not a usable public JWK: {exc}") from exc
    if "PRIVATE KEY" in stripped:
        raise ValueError("that is a private key: register the public key only")
    try:
        key = load_pem_public_key(stripped.encode())
    except ValueError as exc:
        raise ValueError("not a PEM public key (-----BEGIN PUBLIC KEY-----) or a JWK") from exc
    return ToolKey(key=key, kid=None, alg=None)


def _jwk(jwk: Any) -> ToolKey:
    if not isinstance(jwk, dict):
        raise ValueError("a JWK is a JSON object")
    if jwk.get("use") not in (None, "sig"):
        raise ValueError("the JWK is not a signing key")
    if any(part in jwk for part in ("d", "p", "q")):
        raise ValueError("that JWK holds a private key: register the public key only")
    parsed = jwt.PyJWK(jwk)
    return ToolKey(key=parsed.key, kid=jwk.get("kid"), alg=jwk.get("alg"))


def keys_of_set(jwks: Any) -> list[ToolKey]:
    """The usable signing keys of a JWK Set (unusable entries are skipped)."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError("a JWK Set is an object with a `keys` array")
    found = []
    for jwk in jwks["keys"]:
        try:
            found.append(_jwk(jwk))
        except (ValueError, jwt.PyJWTError):
            continue
    return found


def pick(keys: list[ToolKey], kid: str | None) -> ToolKey | None:
    """The key with this kid; without a kid, the only key there is."""
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((k for k in keys if k.kid == kid), None)


class ToolKeys:
    """Finds the key that verifies a tool's client assertion."""

    def __init__(self, session: aiohttp.ClientSession | None, *, cache_seconds: float) -> None:
        self._session = session
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, list[ToolKey]]] = {}
        self._refreshed: dict[str, float] = {}

    async def key_for(self, tool: Tool, kid: str | None) -> ToolKey:
        """The tool's key for `kid`; InvalidClient when there is none."""
        if tool.public_key:
            key = parse_public_key(tool.public_key)
            if kid is not None and key.kid is not None and key.kid != kid:
                raise InvalidClient(f"the registered key has kid {key.kid!r}, not {kid!r}")
            return key
        if not tool.jwks_url:
            raise InvalidClient("the tool has no registered key or JWKS URL")
        found = pick(await self._jwks(tool.jwks_url, refresh=False), kid)
        if found is None:
            found = pick(await self._jwks(tool.jwks_url, refresh=True), kid)
        if found is None:
            raise InvalidClient(
                f"no key with kid {kid!r} in the tool's JWK Set"
                if kid
                else "the client assertion names no kid and the tool's JWK Set has several keys"
            )
        return found

    async def _jwks(self, url: str, *, refresh: bool) -> list[ToolKey]:
        now = time.monotonic()
        cached = self._cache.get(url)
        if cached is not None:
            if refresh and now - self._refreshed.get(url, -REFETCH_SECONDS) < REFETCH_SECONDS:
                return cached[1]  # refetched for an unknown kid a moment ago
            if not refresh and now - cached[0] < self._cache_seconds:
                return cached[1]
        if refresh:
            self._refreshed[url] = now
        keys = await self._fetch(url)
        self._cache[url] = (now, keys)
        return keys

    async def _fetch(self, url: str) -> list[ToolKey]:
        if self._session is None:
            raise InvalidClient("the tool's JWK Set cannot be fetched here")
        try:
            async with self._session.get(url, timeout=FETCH_TIMEOUT, allow_redirects=False) as r:
                if r.status != 200:
                    raise ValueError(f"HTTP {r.status}")
                body = await r.content.read(MAX_JWKS_BYTES + 1)
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError("too large")
            return keys_of_set(orjson.loads(body))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("could not fetch the JWK Set at %s: %s", url, exc)
            raise InvalidClient(f"the tool's JWK Set could not be fetched from {url}") from exc
