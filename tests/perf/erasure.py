"""Erasure benchmark: erase one person from a SQLite store while statements keep arriving.

Loads `--statements` statements (a `--share` of them by the person, the rest by others, some
referring to theirs) into a fresh SQLite store in a temporary directory, then runs
`lrs.services.erasure.erase_person` while a writer stores batches of 100 statements one after
another, and prints: the erasure's time and counts, and the latency of those batches before
and during the erasure (how much the erasure's pages stall ingest). Run by hand:

    PYTHONPATH=$PWD python -m tests.perf.erasure --statements 20000 --policy pseudonymise
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from lrs.services.erasure import erase_person
from lrs.services.factory import statement_service
from lrs.services.statements import StatementService
from lrs.settings import Settings
from lrs.store.sqlite import SQLiteBackend
from tests.perf.ingest import cpu_probe_ms, percentile

AUTHORITY = {"objectType": "Agent", "account": {"homePage": "http://lrs.test", "name": "bench"}}
PERSON = {"objectType": "Agent", "name": "Ada Lovelace", "mbox": "mailto:ada@example.com"}
VERB = {"id": "http://adlnet.gov/expapi/verbs/experienced"}


def statement(rng: random.Random, person_share: float, theirs: list[str]) -> dict[str, Any]:
    """One statement: by the person, by someone else, or someone's reference to theirs."""
    sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    roll = rng.random()
    actor = PERSON if roll < person_share else {"mbox": f"mailto:u{rng.randrange(5000)}@x.org"}
    target: dict[str, Any] = {"id": f"http://example.com/a/{rng.randrange(500)}"}
    if theirs and person_share <= roll < 2 * person_share:
        target = {"objectType": "StatementRef", "id": rng.choice(theirs)}
    if actor is PERSON:
        theirs.append(sid)
    return {"id": sid, "actor": actor, "verb": VERB, "object": target}


async def store(service: StatementService, batch: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    await service.store_statements(batch, authority=AUTHORITY, version="1.0.3")
    return time.perf_counter() - started


async def ingest_latencies(
    service: StatementService, rng: random.Random, stop: asyncio.Event, count: int
) -> list[float]:
    """Batches of 100 statements by others, one after another, until `stop` (at least `count`)."""
    latencies: list[float] = []
    while not stop.is_set() or len(latencies) < count:
        batch = [statement(rng, 0.0, []) for _ in range(100)]
        latencies.append(await store(service, batch))
    return latencies


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p50, p99 = percentile(ordered, 50) * 1000, percentile(ordered, 99) * 1000
    top = ordered[-1] * 1000
    return f"{name}: {len(values)} batches, p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {top:.1f} ms"


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        backend = SQLiteBackend(Path(tmp))
        service = statement_service(backend, Settings(data_dir=Path(tmp)))
        theirs: list[str] = []
        for _ in range(0, args.statements, 500):
            await store(service, [statement(rng, args.share, theirs) for _ in range(500)])
        done = asyncio.Event()
        done.set()
        before = await ingest_latencies(service, rng, done, 20)
        stop = asyncio.Event()
        during_task = asyncio.create_task(ingest_latencies(service, rng, stop, 1))
        started = time.perf_counter()
        counts = await erase_person(
            backend,
            [{"mbox": PERSON["mbox"]}],
            "pm_bench",
            args.policy,
            home_page="http://lrs.test/erased",
        )
        elapsed = time.perf_counter() - started
        stop.set()
        during = await during_task
        await backend.close()
    print(f"statements loaded: {args.statements}, by the person: {len(theirs)}")
    print(f"erasure ({args.policy}): {elapsed:.2f} s, {counts}")
    print(summary("ingest before", before))
    print(summary("ingest during", during))
    print(f"CPU probe: {cpu_probe_ms():.0f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=20000, help="statements loaded first")
    parser.add_argument("--share", type=float, default=0.05, help="share by the person")
    parser.add_argument("--policy", choices=("pseudonymise", "delete"), default="pseudonymise")
    parser.add_argument("--seed", type=int, default=1, help="seed of the statement generator")
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
