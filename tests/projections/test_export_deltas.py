"""Export deltas (`since`) carry removals, in NDJSON and CSV, over HTTP and through the CLI;
the endpoint gives an RFC 9530 `Repr-Digest` when asked."""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
from pathlib import Path

import orjson
import pytest

from lrs.cli import main
from tests.projections.api_support import Market
from tests.projections.conftest import COURSE, hris_actor, statement, voiding
from tests.projections.test_cli import data_dir, store  # noqa: F401  (the autouse data dir)

P = "/marketplace/v1"


async def void_one_of_two(market: Market) -> str:
    """E1 and E2 complete; a checkpoint time; E1's completion voided. The checkpoint."""
    ids = await market.post_statements(
        [statement("completed", actor=hris_actor(f"E{n}")) for n in (1, 2)]
    )
    await market.projection.worker.drain()
    auth = await market.token("read:activity:aggregate")
    _, body, _ = await market.get(f"{P}/aggregates", auth)
    checkpoint = max(item["updated_at"] for item in body["data"])
    await market.post_statements([voiding(ids[0])])
    await market.projection.worker.drain()
    return str(checkpoint)


async def test_a_delta_carries_removals_in_ndjson_and_csv(market: Market) -> None:
    since = await void_one_of_two(market)
    auth = await market.token("read:activity:aggregate")
    headers = {"Authorization": auth}
    response = await market.http.get(f"{P}/export", params={"since": since}, headers=headers)
    lines = [orjson.loads(line) for line in (await response.read()).splitlines()]
    assert [(i["member_id"], i.get("removed")) for i in lines] == [("E1", True)]
    assert set(lines[0]) == {"member_id", "activity_id", "removed", "version", "updated_at"}
    assert lines[0]["activity_id"] == COURSE and lines[0]["version"] == 2

    response = await market.http.get(
        f"{P}/export", params={"since": since, "format": "csv"}, headers=headers
    )
    [row] = list(csv.DictReader(io.StringIO(await response.text())))
    assert (row["member_id"], row["removed"], row["version"]) == ("E1", "true", "2")
    assert row["learning_completed"] == "" and row["email"] == ""

    # a full export is a snapshot: live records only, each row `removed` false
    response = await market.http.get(f"{P}/export", params={"format": "csv"}, headers=headers)
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["member_id"], r["removed"]) for r in rows] == [("E2", "false")]


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_the_export_gives_its_repr_digest_when_asked(market: Market, encoding: str) -> None:
    since = await void_one_of_two(market)
    auth = await market.token("read:activity:aggregate")
    headers = {
        "Authorization": auth,
        "Want-Repr-Digest": "sha-512=3, sha-256=10",
        "Accept-Encoding": encoding,
    }
    response = await market.http.get(
        f"{P}/export", params={"since": since}, headers=headers, auto_decompress=False
    )
    assert response.status == 200
    raw = await response.read()
    digest = base64.b64encode(hashlib.sha256(raw).digest()).decode()
    assert response.headers["Repr-Digest"] == f"sha-256=:{digest}:"
    assert int(response.headers["Content-Length"]) == len(raw)
    body = gzip.decompress(raw) if encoding == "gzip" else raw
    assert response.headers.get("Content-Encoding") == ("gzip" if encoding == "gzip" else None)
    assert orjson.loads(body.splitlines()[0])["removed"] is True

    plain = await market.http.get(f"{P}/export", headers={"Authorization": auth})
    assert "Repr-Digest" not in plain.headers  # streamed as before when not asked


def test_want_repr_digest_parsing() -> None:
    from projections.http.records import wants_sha256

    assert wants_sha256("sha-256=1") and wants_sha256("SHA-256=5, sha-512=1")
    assert not wants_sha256(None) and not wants_sha256("sha-256=0")
    assert not wants_sha256("sha-512=3") and not wants_sha256("sha-256")


def test_the_cli_delta_carries_removals(
    data_dir: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = statement("completed", actor=hris_actor("E1"))
    first["id"] = "6f0a3ad6-3b1c-4a63-9b8e-5a3c1bd6c001"
    store(data_dir, first, statement("completed", actor=hris_actor("E2")))
    assert main(["worker", "--once", "--no-webhooks"]) == 0
    assert main(["export", "--quiet", "--output", "full.ndjson"]) == 0
    checkpoint = max(
        orjson.loads(line)["updated_at"]
        for line in (data_dir / "full.ndjson").read_bytes().splitlines()
    )
    store(data_dir, voiding(first["id"]))
    assert main(["worker", "--once", "--no-webhooks"]) == 0
    capsys.readouterr()
    argv = ["export", "--since", checkpoint, "--quiet"]
    assert main([*argv, "--output", "delta.ndjson"]) == 0
    assert "removals included" in capsys.readouterr().out
    [removal] = [orjson.loads(x) for x in (data_dir / "delta.ndjson").read_bytes().splitlines()]
    assert (removal["member_id"], removal["removed"]) == ("E1", True)
    assert main([*argv, "--format", "csv", "--output", "delta.csv"]) == 0
    [row] = list(csv.DictReader(io.StringIO((data_dir / "delta.csv").read_text())))
    assert (row["member_id"], row["removed"]) == ("E1", "true")
    digest, _name = (data_dir / "delta.csv.sha256").read_text().split()
    assert digest == hashlib.sha256((data_dir / "delta.csv").read_bytes()).hexdigest()
