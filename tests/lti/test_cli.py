"""`lrs lti ...` through the CLI entry point, and what it registers working against the server."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Callable
from pathlib import Path

import oauthlib.oauth1
import pytest

from lrs.app import create_app
from lrs.cli import main
from lrs.config import Config
from tests.lti.conftest import public_pem, rsa_key
from tests.lti.test_outcomes import envelope, parse_response

BASE = "https://cli.example"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LRS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LRS_PUBLIC_BASE_URL", BASE)
    for name in ("LRS_MONGODB_URI", "LRS_LTI_MASTER_KEY", "LRS_LTI_MASTER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    assert main(["lti", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_register_and_list_tools(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    key_file = data_dir / "tool.pem"
    key_file.write_text(public_pem(rsa_key(0)))
    tool = run(
        capsys,
        "register-tool",
        "--name",
        "Quiz",
        "--client-id",
        "Quiz-Client",
        "--public-key",
        str(key_file),
        "--deployment-id",
        "d1",
        "--deployment-id",
        "d2",
        "--scopes",
        "score lineitem.readonly",
        "--passing-threshold",
        "0.6",
    )
    assert isinstance(tool, dict)
    assert tool["client_id"] == "Quiz-Client" and tool["deployment_ids"] == ["d1", "d2"]
    assert tool["scopes"] == [
        "https://purl.imsglobal.org/spec/lti-ags/scope/score",
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    ]
    assert tool["token_url"] == f"{BASE}/lti/token"
    assert tool["lineitems_url"] == f"{BASE}/lti/tools/{tool['tool_id']}/lineitems"
    second = run(capsys, "register-tool", "--name", "Other", "--jwks-url", "https://t.example/k")
    assert second["scopes"] and second["client_id"]  # type: ignore[index]
    listed = run(capsys, "list-tools")
    assert [t["tool_id"] for t in listed] == [tool["tool_id"], second["tool_id"]]  # type: ignore[index, union-attr]


@pytest.mark.parametrize(
    "args",
    [
        ["--jwks-url", "ftp://x"],
        ["--jwks-url", "https://x", "--passing-threshold", "2"],
        ["--jwks-url", "https://x", "--scopes", "everything"],
        ["--jwks-url", "https://x", "--user-home-page", "not a url"],
    ],
)
def test_bad_tool_registrations(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lti", "register-tool", "--name", "x", *args]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["lti", "list-tools", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_private_key_is_not_registered(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    from cryptography.hazmat.primitives import serialization

    key_file = data_dir / "private.pem"
    key_file.write_bytes(
        rsa_key(0).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert main(["lti", "register-tool", "--name", "x", "--public-key", str(key_file)]) == 2
    assert "private key" in capsys.readouterr().err


def test_key_and_jwks_url_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["lti", "register-tool", "--name", "x"])
    with pytest.raises(SystemExit):
        main(
            ["lti", "register-tool", "--name", "x", "--jwks-url", "https://a", "--public-key", "f"]
        )


async def test_consumer_and_sourcedid_work_against_the_server(
    capsys: pytest.CaptureFixture[str], data_dir: Path, aiohttp_client: Callable
) -> None:
    created = await asyncio.to_thread(
        run, capsys, "register-consumer", "--name", "Legacy", "--passing-threshold", "0.5"
    )
    assert isinstance(created, dict)
    assert created["outcome_service_url"] == f"{BASE}/lti/1.1/outcomes"
    secret = created["secret"]
    assert secret.encode() not in (data_dir / "lrs.sqlite3").read_bytes()
    assert stat.S_IMODE((data_dir / "lti-master.key").stat().st_mode) == 0o600
    listed = await asyncio.to_thread(run, capsys, "list-consumers")
    assert [c["consumer_key"] for c in listed] == [created["consumer_key"]]  # type: ignore[index, union-attr]
    assert "secret" not in json.dumps(listed)
    minted = await asyncio.to_thread(
        run,
        capsys,
        "sourcedid",
        "--consumer-key",
        created["consumer_key"],
        "--resource-link-id",
        "link-1",
        "--user-id",
        "emp-7",
    )
    assert isinstance(minted, dict)
    # the server, on the same data directory, shares the master key file with the CLI
    client = await aiohttp_client(create_app(Config.from_env()))
    body = envelope("replaceResult", minted["lis_result_sourcedid"], score="0.75")
    signer = oauthlib.oauth1.Client(created["consumer_key"], client_secret=secret)
    _uri, headers, _ = signer.sign(
        minted["lis_outcome_service_url"],
        http_method="POST",
        body=body,
        headers={"Content-Type": "application/xml"},
    )
    response = await client.post("/lti/1.1/outcomes", data=body.encode(), headers=headers)
    answer = parse_response(await response.text())
    assert response.status == 200 and answer["imsx_codeMajor"] == "success", answer


def test_sourcedid_for_an_unknown_consumer_fails(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["lti", "sourcedid", "--consumer-key", "nope", "--resource-link-id", "l"]
    assert main([*args, "--user-id", "u"]) == 1


@pytest.mark.parametrize(
    "command",
    [
        ["lti"],
        ["lti", "register-tool"],
        ["lti", "list-tools"],
        ["lti", "register-consumer"],
        ["lti", "list-consumers"],
        ["lti", "sourcedid"],
    ],
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: lrs" in capsys.readouterr().out


def test_disable_a_tool_and_a_consumer(capsys: pytest.CaptureFixture[str]) -> None:
    tool = run(capsys, "register-tool", "--name", "Quiz", "--jwks-url", "https://t.example/k")
    consumer = run(capsys, "register-consumer", "--name", "Legacy")
    assert isinstance(tool, dict) and isinstance(consumer, dict)
    assert main(["lti", "disable-tool", tool["tool_id"]]) == 0
    assert f"tool {tool['tool_id']} disabled" in capsys.readouterr().out
    assert main(["lti", "disable-consumer", consumer["consumer_key"]]) == 0
    capsys.readouterr()
    [listed] = run(capsys, "list-tools")  # type: ignore[misc]
    assert listed["disabled_at"]
    [keys] = run(capsys, "list-consumers")  # type: ignore[misc]
    assert keys["disabled_at"]
    assert main(["lti", "disable-tool", "nope"]) != 0
    assert "no LTI tool nope" in capsys.readouterr().err
