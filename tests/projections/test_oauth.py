"""The OAuth endpoints under abuse: malformed forms, secret guessing, a slow secret check."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lrs.app import create_app
from lrs.config import Config
from lrs.errors import ConfigError
from lrs.settings import Settings
from lrs.store.base import Backend
from projections import tokens as tokens_module
from projections.errors import RateLimited
from projections.ratelimit import FailedAttempts, RateLimiter
from projections.settings import ProjectionSettings
from projections.store.base import SigningKey
from tests.projections.api_support import TOKEN_PATH, Market, basic

REVOKE_PATH = "/marketplace/v1/oauth/revoke"
GRANT = {"grant_type": "client_credentials"}

MALFORMED_FORMS = {
    "multipart without a boundary": ("multipart/form-data", b"--x\r\n\r\n--x--\r\n"),
    "form with invalid UTF-8": ("application/x-www-form-urlencoded", b"grant_type=\xff\xfe"),
    "multipart part value not UTF-8": (
        "multipart/form-data; boundary=b",
        b'--b\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\n\xff\xfe\r\n--b--\r\n',
    ),
    "multipart part header with a control character": (
        "multipart/form-data; boundary=b",
        b'--b\r\nContent-Disposition: form-data; name="grant_type"\r\nX-Bad: a\x01b\r\n\r\n'
        b"client_credentials\r\n--b--\r\n",
    ),
    "multipart without its boundary in the body": ("multipart/form-data; boundary=b", b"junk"),
    "unknown charset": ("application/x-www-form-urlencoded; charset=no-such", b"a=b"),
}


@pytest.mark.parametrize("path", [TOKEN_PATH, REVOKE_PATH])
@pytest.mark.parametrize("case", list(MALFORMED_FORMS))
async def test_a_malformed_form_is_invalid_request(market: Market, path: str, case: str) -> None:
    content_type, body = MALFORMED_FORMS[case]
    response = await market.http.post(path, data=body, headers={"Content-Type": content_type})
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_request"
    assert response.headers["Cache-Control"] == "no-store"


async def post_token(market: Market, client_id: str, secret: str) -> tuple[int, dict, str | None]:
    response = await market.http.post(
        TOKEN_PATH, data=GRANT, headers={"Authorization": basic(client_id, secret)}
    )
    return response.status, await response.json(), response.headers.get("Retry-After")


async def test_the_11th_failed_attempt_for_a_client_id_is_429(market: Market) -> None:
    victim, victim_secret = await market.client("read:profile")
    other, other_secret = await market.client("read:profile")
    for _ in range(10):
        assert (await post_token(market, victim, "wrong"))[:2] == (
            401,
            {"error": "invalid_client", "error_description": "unknown client or wrong secret"},
        )
    status, body, retry_after = await post_token(market, victim, "wrong")
    assert (status, body["error"]) == (429, "rate_limited")
    assert retry_after is not None and 1 <= int(retry_after) <= 60
    # the id stays locked for the window, even with its right secret ...
    assert (await post_token(market, victim, victim_secret))[0] == 429
    # ... while another client id still gets its token
    assert (await post_token(market, other, other_secret))[0] == 200
    # revocation authenticates the client the same way, so it shares the count
    revoke = await market.http.post(
        REVOKE_PATH, data={"token": "x"}, headers={"Authorization": basic(victim, "wrong")}
    )
    assert revoke.status == 429 and "Retry-After" in revoke.headers


async def test_failures_per_address_are_limited_across_client_ids(market: Market) -> None:
    market.projection.settings = market.projection.settings.with_overrides(
        token_failures_per_address=3
    )
    client_id, secret = await market.client("read:profile")
    for n in range(3):
        assert (await post_token(market, f"mkt_unknown{n}", "guess"))[0] == 401
    assert (await post_token(market, "mkt_unknown9", "guess"))[0] == 429
    assert (await post_token(market, client_id, secret))[0] == 429  # the address is blocked


async def test_a_success_does_not_count_as_a_failure(market: Market) -> None:
    market.projection.settings = market.projection.settings.with_overrides(
        token_failures_per_client=2
    )
    client_id, secret = await market.client("read:profile")
    assert (await post_token(market, client_id, "wrong"))[0] == 401
    for _ in range(3):
        assert (await post_token(market, client_id, secret))[0] == 200
    assert (await post_token(market, client_id, "wrong"))[0] == 401  # the 2nd failure
    assert (await post_token(market, client_id, secret))[0] == 429


async def test_a_malformed_form_is_not_a_failed_attempt(market: Market) -> None:
    market.projection.settings = market.projection.settings.with_overrides(
        token_failures_per_address=1
    )
    content_type, body = MALFORMED_FORMS["form with invalid UTF-8"]
    for _ in range(3):
        response = await market.http.post(
            TOKEN_PATH, data=body, headers={"Content-Type": content_type}
        )
        assert response.status == 400
    client_id, secret = await market.client("read:profile")
    assert (await post_token(market, client_id, secret))[0] == 200


async def test_the_secret_check_runs_off_the_event_loop(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/health answers while a (deliberately held) secret check is still running."""
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def held_verify(secret: str, stored: str) -> bool:
        started.set()
        release.wait(timeout=10)  # a safety net only: the test releases it
        finished.append(True)
        return False

    monkeypatch.setattr(tokens_module, "verify_secret", held_verify)
    attempt = asyncio.ensure_future(post_token(market, "mkt_someone", "guess"))
    try:
        assert await asyncio.to_thread(started.wait, 30)
        health = await market.http.get("/health")
        assert health.status == 200
        assert finished == []  # the check was still running when /health answered
    finally:
        release.set()
    assert (await attempt)[0] == 401


def test_failed_attempts_slide_out_of_the_window() -> None:
    now = [0.0]
    attempts = FailedAttempts(window_s=60, clock=lambda: now[0])
    for at in (1000.0, 1010.0, 1030.0):
        now[0] = at
        attempts.check("c", 3)
        attempts.record("c")
    now[0] = 1040.0
    with pytest.raises(RateLimited) as caught:
        attempts.check("c", 3)
    assert caught.value.retry_after == 20  # the failure at 1000 leaves the window at 1060
    attempts.check("other", 3)
    attempts.check("c", 0)  # 0 = no limit
    now[0] = 1060.0
    attempts.check("c", 3)  # two failures left in the window
    with pytest.raises(RateLimited) as caught:
        attempts.check("c", 2)
    assert caught.value.retry_after == 10
    attempts.forget("c", 1030.0)  # that attempt succeeded after all
    attempts.check("c", 2)
    attempts.forget("c", 1.0)  # unknown: nothing happens
    attempts.forget("unknown", 1.0)


def test_keys_without_recent_failures_are_swept() -> None:
    now = [0.0]
    attempts = FailedAttempts(window_s=60, clock=lambda: now[0])
    for n in range(1000):
        attempts.record(f"client:{n}")
    now[0] += 61
    attempts.record("client:new")
    assert len(attempts._failures) == 1


def test_the_failure_limits_are_settings() -> None:
    assert ProjectionSettings.from_env({}).token_failures_per_client == 10
    assert ProjectionSettings.from_env({}).token_failures_per_address == 30
    read = ProjectionSettings.from_env(
        {
            "LRS_MARKETPLACE_TOKEN_FAILURES_PER_CLIENT": "3",
            "LRS_MARKETPLACE_TOKEN_FAILURES_PER_ADDRESS": "0",
        }
    )
    assert (read.token_failures_per_client, read.token_failures_per_address) == (3, 0)
    with pytest.raises(ConfigError, match="LRS_MARKETPLACE_TOKEN_FAILURES_PER_CLIENT"):
        ProjectionSettings.from_env({"LRS_MARKETPLACE_TOKEN_FAILURES_PER_CLIENT": "-1"})


async def test_concurrent_failed_attempts_count_before_their_secrets_are_checked(
    market: Market,
) -> None:
    client_id, _secret = await market.client("read:profile")
    statuses = await asyncio.gather(
        *(post_token(market, client_id, f"wrong{n}") for n in range(15))
    )
    assert sorted(status for status, _body, _retry in statuses) == [401] * 10 + [429] * 5


async def test_token_requests_are_limited_per_client(market: Market) -> None:
    """A client limited to 20 requests a minute gets 20 tokens in a burst, then 429."""
    now = [1000.0]
    market.projection.limiter = RateLimiter(clock=lambda: now[0])  # no refill while it runs
    client_id, secret = await market.client("read:profile", rate_limit=20)
    other_id, other_secret = await market.client("read:profile", rate_limit=20)
    answers = [await post_token(market, client_id, secret) for _ in range(30)]
    assert [a[0] for a in answers] == [200] * 20 + [429] * 10
    _status, body, retry_after = answers[-1]
    assert body["error"] == "rate_limited"
    assert retry_after is not None and 1 <= int(retry_after) <= 60
    assert (await post_token(market, other_id, other_secret))[0] == 200  # its own bucket
    # the limit is no failure: a wrong secret is still told apart, and counted, as before
    assert (await post_token(market, client_id, "wrong"))[0] == 401
    now[0] += 3.0  # a request a minute per 20: one is allowed again after 3 s
    assert (await post_token(market, client_id, secret))[0] == 200


async def test_failed_client_authentications_are_audited_without_the_secret(
    market: Market,
) -> None:
    client_id, secret = await market.client("read:profile")
    assert (await post_token(market, client_id, "wrong-secret-xyz"))[0] == 401
    assert (await post_token(market, "mkt_nobody", "guess-secret-xyz"))[0] == 401
    await market.projection.tokens.revoke_client(client_id)
    assert (await post_token(market, client_id, secret))[0] == 401
    entries = await market.projection.audit.entries(type="client.authentication_failed")
    reasons = [(e.subject, e.details["reason"]) for e in reversed(entries)]
    assert reasons == [
        (client_id, "wrong secret"),
        ("mkt_nobody", "unknown client"),
        (client_id, "revoked client"),
    ]
    assert all(e.details["address"] == "127.0.0.1" for e in entries)
    text = repr(entries)
    assert "secret-xyz" not in text and secret not in text
    assert (await market.projection.audit.verify()).intact


async def test_a_rotated_secret_and_the_old_one_both_get_tokens_during_the_grace(
    market: Market,
) -> None:
    client_id, old = await market.client("read:profile")
    rotated = await market.projection.tokens.rotate_secret(client_id, grace_s=3600)
    assert rotated is not None
    assert (await post_token(market, client_id, rotated.secret))[0] == 200
    assert (await post_token(market, client_id, old))[0] == 200
    again = await market.projection.tokens.rotate_secret(client_id, grace_s=0)
    assert again is not None
    assert (await post_token(market, client_id, again.secret))[0] == 200
    assert (await post_token(market, client_id, rotated.secret))[0] == 401  # no grace
    assert (await post_token(market, client_id, old))[0] == 200  # its own grace goes on


async def test_a_retired_signing_key_is_refused_by_every_server_at_once(
    market: Market,
    aiohttp_client: Callable[..., Any],
    backend: Backend,
    tmp_path: Path,
) -> None:
    """Two app instances on one store: a key retired through one is refused by the other at
    once, although the other has just verified a token signed with it."""
    other = Market(
        http=await aiohttp_client(
            create_app(
                Config(core=Settings(data_dir=tmp_path), projection=ProjectionSettings.from_env()),
                backend=backend,
            )
        ),
        backend=backend,
    )
    token = await market.token("read:profile")
    summary = "/marketplace/v1/members/E1/summary"
    assert (await other.get(summary, token))[0] in (200, 404)  # known to `other`
    [key] = [k for k in await backend_keys(market) if not k.retired]
    assert await market.projection.tokens.retire_key(key.kid)
    status, body, _ = await other.get(summary, token)
    assert status == 401 and body["error"]["code"] == "invalid_token"


async def backend_keys(market: Market) -> list[SigningKey]:
    return await market.projection.stores.access.signing_keys()


async def test_an_audited_unknown_client_id_is_cut_short(market: Market) -> None:
    assert (await post_token(market, "x" * 5000, "guess"))[0] == 401
    [entry] = await market.projection.audit.entries(type="client.authentication_failed")
    assert entry.subject == entry.actor == "x" * 128
