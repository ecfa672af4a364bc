"""HRIS events benchmark: signed events through the app's POST /hris/v1/events, in process.

Run by hand, never in CI:

    python -m tests.perf.hris_events [--members N] [--batch B] [--seed S]

It builds the app on a fresh SQLite data directory (aiohttp's test server, real HTTP on
127.0.0.1), creates a source, then sends for `--members` employees a hire, then a change,
then (out of order) an older change that is superseded, `--batch` events per request,
sequentially, every request signed. Events are generated from `random.Random(seed)` and
serialised and signed before the clock starts; every answer is checked (200, the expected
status of every event). It prints events/s and p50/p95 request latency per phase, and the
CPU probe (`tests.perf.ingest.cpu_probe_ms`): figures taken on a busy machine are only
comparable with others taken back to back on it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer

from lrs.app import create_app
from lrs.config import Config
from lrs.keys import marketplace_app_key
from lrs.settings import Settings
from projections.keys import projection_key
from projections.settings import ProjectionSettings
from projections.webhook_verify import sign
from tests.perf.ingest import cpu_probe_ms

DEPARTMENTS = ("Research", "Sales", "Support", "Finance", "Engineering", "Legal")


def phase_events(rng: random.Random, members: int, phase: str) -> list[dict[str, Any]]:
    """One event per member: `hire` (March), `change` (June) or a stale `change` (April)."""
    month = {"hire": "03", "change": "06", "stale": "04"}[phase]
    kind = "hire" if phase == "hire" else "change"
    found = []
    for n in range(members):
        member: dict[str, Any] = {"employee_id": f"E{n:06d}", "department": rng.choice(DEPARTMENTS)}
        if phase == "hire":
            member |= {"email": f"person{n}@example.com", "name": f"Person {n}"}
        found.append(
            {
                "event_id": f"{phase}-{n}",
                "type": kind,
                "effective_at": f"2026-{month}-{rng.randint(1, 28):02d}T09:00:00Z",
                "member": member,
            }
        )
    return found


async def run_phase(
    client: TestClient, secret: str, events: list[dict[str, Any]], batch: int, expect: str
) -> tuple[float, list[float]]:
    """Send the events in requests of `batch`; (seconds, request latencies)."""
    bodies = [orjson.dumps(events[i : i + batch]) for i in range(0, len(events), batch)]
    stamp = int(time.time())
    headers = [
        {"X-HRIS-Source": "bench", "X-HRIS-Signature": sign(secret, stamp, b)} for b in bodies
    ]
    latencies = []
    started = time.perf_counter()
    for body, header in zip(bodies, headers, strict=True):
        sent = time.perf_counter()
        response = await client.post("/hris/v1/events", data=body, headers=header)
        answer = await response.json()
        latencies.append(time.perf_counter() - sent)
        if response.status != 200 or {r["status"] for r in answer["results"]} != {expect}:
            raise SystemExit(f"unexpected answer {response.status}: {answer}")
    return time.perf_counter() - started, latencies


async def main(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(core=Settings(data_dir=Path(tmp)), projection=ProjectionSettings())
        async with TestClient(TestServer(create_app(config))) as client:
            projection = client.app[marketplace_app_key][projection_key]
            _source, secret = await projection.hris.sources.create("bench")
            print(f"CPU probe {cpu_probe_ms():.0f} ms; {args.members} members, batch {args.batch}")
            for phase, expect in (
                ("hire", "applied"),
                ("change", "applied"),
                ("stale", "superseded"),
            ):
                events = phase_events(rng, args.members, phase)
                seconds, lat = await run_phase(client, secret, events, args.batch, expect)
                p95 = statistics.quantiles(lat, n=20)[-1] if len(lat) > 1 else lat[0]
                print(
                    f"{phase:7} {len(events) / seconds:8.0f} events/s  "
                    f"p50 {statistics.median(lat) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms"
                )
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--members", type=int, default=2000, help="employees (events per phase)")
    parser.add_argument("--batch", type=int, default=100, help="events per request (1-500)")
    parser.add_argument("--seed", type=int, default=17, help="random seed")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
