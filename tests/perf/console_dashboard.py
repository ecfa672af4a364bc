"""Console dashboard benchmark: the dashboard's two `stored_counts` reads on a big SQLite store.

Run by hand, never in CI:

    python tests/perf/console_dashboard.py [--statements N] [--days D] [--seed S]

Fills a fresh SQLite store (a temporary directory) with N statements whose stored times are
spread at random over the last D days (default 1,000,000 over 30: every one falls in the daily
chart's window, the worst case), then times the dashboard's two reads, statements per hour over
48 hours and per day over 30 days, best of 5 after one warm-up, and prints the CPU probe
(`tests.perf.ingest.cpu_probe_ms`) beside the figures: the reads are index range scans, so
their time grows with the statements in the window.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from pathlib import Path

import orjson

from lrs.model.statements import StatementIndex, StatementRecord
from lrs.store.sqlite import SQLiteBackend
from tests.perf.ingest import cpu_probe_ms

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
BATCH = 1000


async def fill(backend: SQLiteBackend, count: int, days: int, rng: random.Random) -> int:
    """Insert `count` small statements over the last `days` days; now, in microseconds."""
    now = time.time_ns() // 1000
    for start in range(0, count, BATCH):
        records = []
        for _ in range(min(BATCH, count - start)):
            sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            raw = orjson.dumps({"id": sid, "verb": {"id": "http://adlnet.gov/expapi/verbs/x"}})
            stored = now - rng.randrange(days * DAY_US)
            records.append(StatementRecord(sid, raw, stored, StatementIndex.of()))
        outcome = await backend.statements.insert_statements(records)
        assert outcome.stored
    return now


async def best_ms(read: object, runs: int = 5) -> float:
    """The best of `runs` timings of an awaitable factory, after one untimed run."""
    assert callable(read)
    await read()
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        await read()
        best = min(best, time.perf_counter() - started)
    return best * 1000


async def main(count: int, days: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        backend = SQLiteBackend(Path(folder))
        try:
            started = time.perf_counter()
            now = await fill(backend, count, days, random.Random(seed))
            took = time.perf_counter() - started
            print(f"filled {count:,} statements over {days} days in {took:.1f} s")
            hour0 = (now // HOUR_US - 47) * HOUR_US
            day0 = (now // DAY_US - 29) * DAY_US
            hourly = await best_ms(lambda: backend.statements.stored_counts(hour0, HOUR_US, 48))
            daily = await best_ms(lambda: backend.statements.stored_counts(day0, DAY_US, 30))
        finally:
            await backend.close()
    print(f"per hour, 48 h: {hourly:.1f} ms   per day, 30 days: {daily:.1f} ms (best of 5)")
    print(f"CPU probe: {cpu_probe_ms():.0f} ms (about 105 ms on a quiet host)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    asyncio.run(main(args.statements, args.days, args.seed))
