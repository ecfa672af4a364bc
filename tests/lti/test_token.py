"""The token endpoint and the JWKS endpoint, acting as LTI 1.3 tools (RFC 6749, RFC 7523)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from aiohttp import web
from jwt.algorithms import RSAAlgorithm

from lti.errors import InvalidClient
from lti.keys import platform_keys_key, token_service_key
from lti.scopes import AGS_SCOPES, LINEITEM, LINEITEM_READONLY, RESULT_READONLY, SCORE
from lti.tokens import TokenService
from tests.lti.conftest import BASE, TOKEN_URL, LTIHarness, ToolClient, public_pem, rsa_key


async def post_token(lti: LTIHarness, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    response = await lti.http.post("/lti/token", data=form)
    return response.status, await response.json()


async def test_jwks_publishes_the_platform_key(lti: LTIHarness) -> None:
    response = await lti.http.get("/lti/jwks")
    assert response.status == 200
    jwks = await response.json()
    [key] = jwks["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert "d" not in key and "p" not in key
    again = await (await lti.http.get("/lti/jwks")).json()
    assert again == jwks


async def test_a_tool_gets_a_token_for_its_granted_scopes(lti: LTIHarness) -> None:
    client = await lti.add_tool(scopes=(LINEITEM_READONLY, SCORE))
    response = await lti.http.post("/lti/token", data=client.form())  # asks for all four
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"].split() == [LINEITEM_READONLY, SCORE]
    # the token is a JWT signed with the published key
    jwks = await (await lti.http.get("/lti/jwks")).json()
    public = RSAAlgorithm.from_jwk(json.dumps(jwks["keys"][0]))
    claims = jwt.decode(body["access_token"], public, algorithms=["RS256"], audience=BASE)
    assert claims["sub"] == client.tool.client_id and claims["exp"] - claims["iat"] == 3600


async def test_no_scope_parameter_grants_every_registered_scope(lti: LTIHarness) -> None:
    client = await lti.add_tool(scopes=(SCORE, RESULT_READONLY))
    form = client.form()
    del form["scope"]
    status, body = await post_token(lti, form)
    assert status == 200 and body["scope"].split() == [SCORE, RESULT_READONLY]


async def test_a_scope_the_tool_lacks_is_invalid_scope(lti: LTIHarness) -> None:
    client = await lti.add_tool(scopes=(SCORE,))
    status, body = await post_token(lti, client.form(scope=LINEITEM))
    assert status == 400 and body["error"] == "invalid_scope"


async def test_a_jti_is_single_use(lti: LTIHarness) -> None:
    client = await lti.add_tool()
    assertion = client.assertion()
    assert (await post_token(lti, client.form(assertion)))[0] == 200
    status, body = await post_token(lti, client.form(assertion))
    assert status == 400 and body["error"] == "invalid_client"
    assert "replayed" in body["error_description"]


async def test_a_replayed_jti_is_refused_by_another_process(lti: LTIHarness) -> None:
    # another process: a fresh token service over the same store sees the recorded jti
    client = await lti.add_tool()
    assertion = client.assertion()
    assert (await post_token(lti, client.form(assertion)))[0] == 200
    service = lti.app[token_service_key]
    other = TokenService(
        lti.stores.registrations,
        lti.stores.replays,
        service._platform,
        service._tool_keys,
        service._settings,
        issuer=BASE,
    )
    with pytest.raises(InvalidClient, match="replayed"):
        await other.verify_assertion(assertion, token_url=TOKEN_URL)


def _unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


async def test_alg_none_is_refused(lti: LTIHarness) -> None:
    client = await lti.add_tool()
    claims = jwt.decode(client.assertion(), options={"verify_signature": False})
    forged = _unsigned(claims, {"alg": "none", "typ": "JWT"})
    status, body = await post_token(lti, client.form(forged))
    assert status == 400 and body["error"] == "invalid_client" and "none" in body["message"]


async def test_hmac_signed_with_the_public_key_is_refused(lti: LTIHarness) -> None:
    # the classic confusion: HS256 with the tool's public PEM as the HMAC secret
    client = await lti.add_tool()
    claims = jwt.decode(client.assertion(), options={"verify_signature": False})
    header = {"alg": "HS256", "typ": "JWT"}

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(claims)}"
    mac = hmac.new(public_pem(client.key).encode(), signing_input.encode(), hashlib.sha256)
    forged = signing_input + "." + base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()
    status, body = await post_token(lti, client.form(forged))
    assert status == 400 and body["error"] == "invalid_client" and "HS256" in body["message"]


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        # exp / iat as seconds from now, resolved when the test runs (not at collection:
        # a long suite would otherwise carry "+600 s" into the past)
        ({"exp": -300, "iat": -400}, "expired"),
        ({"iat": 600, "exp": 660}, "future"),
        ({"exp": 3600}, "ahead"),
        ({"aud": "https://other.example/token"}, "aud"),
        ({"aud": None}, "aud"),
        ({"jti": None}, "jti"),
        ({"exp": None}, "exp"),
        ({"iat": None}, "iat"),
        ({"sub": "someone-else"}, "iss and sub"),
        ({"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "d9"}, "deployment"),
    ],
)
async def test_bad_assertions_are_invalid_client(
    lti: LTIHarness, claims: dict[str, Any], words: str
) -> None:
    client = await lti.add_tool(deployment_ids=("d1",))
    now = int(time.time())
    claims = {
        name: now + value if name in ("exp", "iat") and isinstance(value, int) else value
        for name, value in claims.items()
    }
    status, body = await post_token(lti, client.form(client.assertion(**claims)))
    assert status == 400 and body["error"] == "invalid_client"
    assert words in body["error_description"]


async def test_a_registered_deployment_is_accepted(lti: LTIHarness) -> None:
    client = await lti.add_tool(deployment_ids=("d1",))
    assertion = client.assertion(
        **{"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "d1"}
    )
    assert (await post_token(lti, client.form(assertion)))[0] == 200


async def test_an_audience_list_holding_the_token_url_is_accepted(lti: LTIHarness) -> None:
    client = await lti.add_tool()
    assertion = client.assertion(aud=["https://elsewhere.example", TOKEN_URL])
    assert (await post_token(lti, client.form(assertion)))[0] == 200


async def test_a_signature_by_another_key_is_refused(lti: LTIHarness) -> None:
    client = await lti.add_tool()
    impostor = ToolClient(tool=client.tool, key=rsa_key(1))
    status, body = await post_token(lti, client.form(impostor.assertion()))
    assert status == 400 and "signature" in body["error_description"]


async def test_an_unknown_client_is_refused(lti: LTIHarness) -> None:
    client = await lti.add_tool()
    status, body = await post_token(lti, client.form(client.assertion(iss="nobody", sub="nobody")))
    assert status == 400 and body["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": None}, "invalid_request"),
        ({"client_assertion_type": "urn:other"}, "invalid_client"),
        ({"client_assertion": None}, "invalid_request"),
        ({"client_assertion": "not a jwt"}, "invalid_client"),
        ({"client_id": "other"}, "invalid_client"),
    ],
)
async def test_malformed_token_requests(
    lti: LTIHarness, change: dict[str, str | None], error: str
) -> None:
    client = await lti.add_tool()
    form = {**client.form(), **change}
    status, body = await post_token(lti, {k: v for k, v in form.items() if v is not None})
    assert status == 400 and body["error"] == error


async def test_a_token_request_must_be_form_encoded(lti: LTIHarness) -> None:
    client = await lti.add_tool()
    response = await lti.http.post("/lti/token", json=client.form())
    assert response.status == 400 and (await response.json())["error"] == "invalid_request"


async def test_a_repeated_parameter_is_refused(lti: LTIHarness) -> None:
    client = await lti.add_tool()
    fields = [*client.form().items(), ("scope", SCORE)]
    response = await lti.http.post("/lti/token", data=fields)
    assert response.status == 400 and "repeated" in (await response.json())["message"]


async def test_a_tool_key_from_its_jwks_url(lti: LTIHarness, aiohttp_server: Any) -> None:
    served = {"keys": [], "hits": 0}

    async def jwks(request: web.Request) -> web.Response:
        served["hits"] += 1  # type: ignore[operator]
        return web.json_response({"keys": served["keys"]})

    app = web.Application()
    app.router.add_get("/jwks", jwks)
    server = await aiohttp_server(app)

    def jwk(index: int, kid: str) -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(rsa_key(index).public_key(), as_dict=True)
        return {**public, "kid": kid, "alg": "RS256", "use": "sig"}

    served["keys"] = [jwk(0, "k1")]
    client = await lti.add_tool(jwks_url=str(server.make_url("/jwks")))
    client.kid = "k1"
    assert (await post_token(lti, client.form()))[0] == 200
    assert (await post_token(lti, client.form()))[0] == 200
    assert served["hits"] == 1  # cached
    # the tool rotates its key: an unknown kid makes the platform fetch again
    served["keys"] = [jwk(0, "k1"), jwk(1, "k2")]
    rotated = ToolClient(tool=client.tool, key=rsa_key(1), kid="k2")
    assert (await post_token(lti, rotated.form()))[0] == 200
    assert served["hits"] == 2
    # a kid that is nowhere: refused, and no fetch storm
    ghost = ToolClient(tool=client.tool, key=rsa_key(1), kid="k3")
    status, body = await post_token(lti, ghost.form())
    assert status == 400 and "k3" in body["error_description"]
    assert served["hits"] == 2


async def test_an_unreachable_jwks_url_is_invalid_client(lti: LTIHarness) -> None:
    client = await lti.add_tool(jwks_url="http://127.0.0.1:9/jwks")
    status, body = await post_token(lti, client.form())
    assert status == 400 and body["error"] == "invalid_client"


async def test_a_registered_jwk_works_like_a_pem(lti: LTIHarness) -> None:
    public = RSAAlgorithm.to_jwk(rsa_key(0).public_key(), as_dict=True)
    client = await lti.add_tool(public_key=json.dumps({**public, "kid": "only"}))
    client.kid = "only"
    assert (await post_token(lti, client.form()))[0] == 200


async def test_a_bearer_token_is_required(lti: LTIHarness) -> None:
    client = await lti.add_tool()
    path = f"/lti/tools/{client.tool.id}/lineitems"
    response = await lti.http.get(path)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="lti"'  # RFC 6750 §3.1
    assert (await response.json())["error"] == "invalid_token"
    for header in ("Bearer nonsense", "Basic abc", "Bearer " + client.assertion()):
        response = await lti.http.get(path, headers={"Authorization": header})
        assert response.status == 401, header


async def test_an_expired_access_token_is_refused(lti: LTIHarness) -> None:
    client = await lti.add_tool()
    token = await lti.token(client)
    claims = jwt.decode(token, options={"verify_signature": False})
    key = await lti.app[platform_keys_key].signing_key()
    stale = jwt.encode(
        {**claims, "iat": claims["iat"] - 7200, "exp": claims["exp"] - 7200},
        key.private_key,
        algorithm="RS256",
        headers={"kid": key.kid},
    )
    response = await lti.http.get(
        f"/lti/tools/{client.tool.id}/lineitems", headers={"Authorization": f"Bearer {stale}"}
    )
    assert response.status == 401 and "expired" in (await response.json())["message"]


async def test_scopes_are_enforced(lti: LTIHarness) -> None:
    client = await lti.add_tool(scopes=(LINEITEM_READONLY,))
    token = await lti.token(client)
    path = f"/lti/tools/{client.tool.id}/lineitems"
    headers = {"Authorization": f"Bearer {token}"}
    assert (await lti.http.get(path, headers=headers)).status == 200
    response = await lti.http.post(
        path,
        json={"label": "x", "scoreMaximum": 1},
        headers={**headers, "Content-Type": "application/vnd.ims.lis.v2.lineitem+json"},
    )
    assert response.status == 403
    assert (await response.json())["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


async def test_a_token_works_only_for_its_own_tool(lti: LTIHarness) -> None:
    first = await lti.add_tool()
    second = await lti.add_tool(key_index=1)
    token = await lti.token(first)
    response = await lti.http.get(
        f"/lti/tools/{second.tool.id}/lineitems", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 403
    unknown = await lti.http.get(
        "/lti/tools/nosuchtool/lineitems", headers={"Authorization": f"Bearer {token}"}
    )
    assert unknown.status == 403


def test_every_scope_is_an_ags_scope() -> None:
    assert set(AGS_SCOPES) == {LINEITEM, LINEITEM_READONLY, RESULT_READONLY, SCORE}
