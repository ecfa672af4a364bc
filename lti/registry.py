"""Registering LTI 1.3 tools and LTI 1.1 consumer keys (used by `lrs lti ...` and the tests)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from lrs.errors import BadRequest, NotFound
from lti.jwks import parse_public_key
from lti.scopes import AGS_SCOPES
from lti.store.base import Consumer, RegistrationStore, Tool
from lti.vault import CONSUMER_SECRET, Vault


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_url(value: str | None, what: str) -> None:
    if value is None:
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest(f"{what} must be an absolute http(s) URL, got {value!r}")


def _check_threshold(value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise BadRequest(f"a passing threshold is a scaled score from 0.0 to 1.0, got {value}")


async def register_tool(
    store: RegistrationStore,
    *,
    name: str,
    client_id: str | None = None,
    jwks_url: str | None = None,
    public_key: str | None = None,
    deployment_ids: tuple[str, ...] = (),
    scopes: tuple[str, ...] = AGS_SCOPES,
    user_home_page: str | None = None,
    passing_threshold: float | None = None,
) -> Tool:
    """Register a tool: exactly one of a JWKS URL or a public key (PEM or JWK)."""
    if (jwks_url is None) == (public_key is None):
        raise BadRequest("give the tool's JWKS URL or its public key (one of them)")
    _check_url(jwks_url, "the JWKS URL")
    _check_url(user_home_page, "the user home page")
    _check_threshold(passing_threshold)
    if public_key is not None:
        try:
            parse_public_key(public_key)
        except ValueError as exc:
            raise BadRequest(f"the public key is not usable: {exc}") from exc
    if client_id is not None and not client_id.strip():
        raise BadRequest("the client id must not be empty")
    if not scopes or any(s not in AGS_SCOPES for s in scopes):
        raise BadRequest(f"scopes are AGS scopes: {' '.join(AGS_SCOPES)}")
    tool = Tool(
        id=secrets.token_hex(6),
        client_id=client_id or str(uuid.uuid4()),
        name=name,
        scopes=tuple(scopes),
        deployment_ids=tuple(dict.fromkeys(deployment_ids)),
        jwks_url=jwks_url,
        public_key=public_key,
        user_home_page=user_home_page,
        passing_threshold=passing_threshold,
        created_at=_now(),
    )
    await store.add_tool(tool)
    return tool


@dataclass(frozen=True)
class NewConsumer:
    """A consumer as registered: the only moment its secret is shown."""

    consumer: Consumer
    secret: str


async def register_consumer(
    store: RegistrationStore,
    vault: Vault,
    *,
    name: str,
    key: str | None = None,
    user_home_page: str | None = None,
    passing_threshold: float | None = None,
) -> NewConsumer:
    """Mint an LTI 1.1 consumer key and secret; the secret is stored encrypted."""
    _check_url(user_home_page, "the user home page")
    _check_threshold(passing_threshold)
    key = key or secrets.token_hex(10)
    if not key.isascii() or not key.isprintable() or " " in key or len(key) > 255:
        raise BadRequest("a consumer key is 1-255 printable ASCII characters without spaces")
    secret = secrets.token_urlsafe(32)
    consumer = Consumer(
        key=key,
        name=name,
        secret_enc=vault.encrypt(CONSUMER_SECRET, secret.encode(), bound_to=key),
        user_home_page=user_home_page,
        passing_threshold=passing_threshold,
        created_at=_now(),
    )
    await store.add_consumer(consumer)
    return NewConsumer(consumer=consumer, secret=secret)


async def disable_tool(store: RegistrationStore, tool_id: str) -> str:
    """Disable a tool (no new token, its tokens refused); when it was disabled. NotFound when
    unknown. Its line items and scores stay; disabling twice keeps the first time."""
    if not await store.disable_tool(tool_id, _now()):
        raise NotFound(f"no LTI tool {tool_id}")
    tool = await store.get_tool(tool_id)
    return (tool.disabled_at if tool else None) or ""


async def disable_consumer(store: RegistrationStore, key: str) -> str:
    """Disable a consumer key (its signed requests refused); when it was disabled. NotFound
    when unknown. Its outcomes stay; disabling twice keeps the first time."""
    if not await store.disable_consumer(key, _now()):
        raise NotFound(f"no LTI consumer key {key}")
    consumer = await store.get_consumer(key)
    return (consumer.disabled_at if consumer else None) or ""
