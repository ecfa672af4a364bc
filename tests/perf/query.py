"""Query benchmark: GET /xapi/statements of every shape against a real `lrs serve`.

Run by hand, never in CI:

    python -m tests.perf.query [--statements N] [--seed S] [--queries Q] [--data-dir D --keep]

What it does, in order:

1. Starts `lrs serve` on a free port of 127.0.0.1 (default settings, as `tests/perf/ingest.py`
   does) on a temporary data directory, or on `--data-dir` (kept afterwards with `--keep`; a
   directory this script loaded before is re-used as it is, its load skipped).
2. Loads N statements (default 1,000,000) of a realistic shape THROUGH THE API, batches of 100
   at concurrency 8: 5,000 learners (half by mbox, half by an HRIS account), 12 ADL verbs,
   200 courses of 20 units each (the object is a unit, its course in
   `context.contextActivities.parent`), one registration per learner and course. What the
   queries need (learners, registrations, a mid-load time, some ids) is kept in
   `bench-query.json` in the data directory.
3. Runs each shape `--queries` times (default 300) at concurrency 4, `limit=100`, the
   parameters drawn from `random.Random(seed)`: verb; activity (a unit); activity with
   related_activities (a course: the parent of 20 units); agent; agent + verb + since; registration;
   since; the newest page; by id; and `more` pages (the second page of verb and course queries).
   Every answer must be a 200 (a shape's first failure stops the run).
4. Prints per shape p50 / p95 / max latency and the mean number of statements per answer, the
   load rate, the server's open time, and the CPU probe (`cpu_probe_ms`: ~105 ms on a quiet
   normal host) before and after the queries.

To compare two checkouts on one data set: load once with `--data-dir D --keep`, then run the
queries of each checkout on D with `PYTHONPATH=<checkout>` (the server is `python -m lrs.cli`
of whichever `lrs` package comes first on the path).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from tests.perf.ingest import (
    VERB_NAMES,
    Server,
    _free_port,
    cpu_probe_ms,
    create_credential,
    percentile,
)

ADL = "http://adlnet.gov/expapi/verbs/"
LEARNERS = 5_000
COURSES = 200
UNITS = 20
HRIS_HOME = "https://hris.example.com"
COURSE_BASE = "https://lms.example.com/xapi/courses"
META = "bench-query.json"
BATCH = 100
LOAD_CONCURRENCY = 8
QUERY_CONCURRENCY = 4
LIMIT = 100
NS = uuid.UUID("6f1d3c1e-6e4b-4f3e-9d43-4f0c2f3a9b10")


def learner(number: int) -> dict[str, Any]:
    """Learner `number`: even ones by mbox, odd ones by an HRIS account."""
    if number % 2:
        return {"objectType": "Agent", "account": {"homePage": HRIS_HOME, "name": f"E{number:06d}"}}
    return {"objectType": "Agent", "mbox": f"mailto:learner{number}@example.com"}


def course_id(course: int) -> str:
    return f"{COURSE_BASE}/{course}"


def unit_id(course: int, unit: int) -> str:
    return f"{COURSE_BASE}/{course}/units/{unit}"


def registration(who: int, course: int) -> str:
    return str(uuid.uuid5(NS, f"{who}/{course}"))


def statement(rng: random.Random, number: int) -> dict[str, Any]:
    """One statement: a learner, a verb, a unit of one of the learner's courses."""
    who = rng.randrange(LEARNERS)
    course = (who * 7 + rng.randrange(3)) % COURSES  # each learner takes about three courses
    unit = rng.randrange(UNITS)
    verb = VERB_NAMES[number % len(VERB_NAMES)]
    body: dict[str, Any] = {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "actor": learner(who),
        "verb": {"id": ADL + verb, "display": {"en-US": verb}},
        "object": {
            "id": unit_id(course, unit),
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/lesson",
                "name": {"en-US": f"Course {course}, unit {unit}"},
            },
        },
        "context": {
            "registration": registration(who, course),
            "contextActivities": {"parent": [{"id": course_id(course)}]},
            "platform": "Moodle 4.1.3",
        },
        "timestamp": datetime.now(UTC).isoformat(),
    }
    if verb in ("passed", "failed", "scored", "completed"):
        body["result"] = {"score": {"scaled": round(rng.random(), 2)}, "completion": True}
    return body


class Client:
    """An authenticated session against the server under test."""

    def __init__(self, base: str, key: str, secret: str, concurrency: int) -> None:
        self.base = base
        token = base64.b64encode(f"{key}:{secret}".encode()).decode()
        self.headers = {"X-Experience-API-Version": "1.0.3", "Authorization": f"Basic {token}"}
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency),
            timeout=aiohttp.ClientTimeout(total=120),
        )

    async def post(self, body: bytes) -> None:
        headers = {**self.headers, "Content-Type": "application/json"}
        url = f"{self.base}/xapi/statements"
        async with self.session.post(url, data=body, headers=headers) as resp:
            text = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"POST answered {resp.status}: {text[:300]!r}")

    async def get(self, path: str) -> tuple[float, dict[str, Any]]:
        started = time.perf_counter()
        async with self.session.get(self.base + path, headers=self.headers) as r:
            text = await r.read()
            elapsed = time.perf_counter() - started
            if r.status != 200:
                raise RuntimeError(f"GET {path} answered {r.status}: {text[:300]!r}")
        return elapsed, orjson.loads(text)


async def load(client: Client, count: int, seed: int) -> dict[str, Any]:
    """POST `count` statements; return what the queries need (see META)."""
    rng = random.Random(seed)
    numbers: Iterator[int] = iter(range(0, count, BATCH))
    meta: dict[str, Any] = {"statements": count, "seed": seed, "ids": []}
    started = time.perf_counter()

    async def worker() -> None:
        for first in numbers:
            batch = [statement(rng, n) for n in range(first, min(first + BATCH, count))]
            if first >= count // 2 and "mid" not in meta:
                meta["mid"] = datetime.now(UTC).isoformat()
            if first % 10_000 == 0:
                meta["ids"].append(batch[0]["id"])
            await client.post(orjson.dumps(batch))

    await asyncio.gather(*(worker() for _ in range(LOAD_CONCURRENCY)))
    meta["load_s"] = time.perf_counter() - started
    return meta


def shapes(rng: random.Random, meta: dict[str, Any]) -> dict[str, Any]:
    """Query-string makers per shape, each drawing its parameters from `rng`."""

    def agent() -> str:
        return orjson.dumps(learner(rng.randrange(LEARNERS))).decode()

    def verb() -> str:
        return ADL + rng.choice(VERB_NAMES)

    def who_course() -> tuple[int, int]:
        who = rng.randrange(LEARNERS)
        return who, (who * 7 + rng.randrange(3)) % COURSES

    return {
        "verb": lambda: {"verb": verb()},
        "activity": lambda: {"activity": unit_id(rng.randrange(COURSES), rng.randrange(UNITS))},
        "course+related": lambda: {
            "activity": course_id(rng.randrange(COURSES)),
            "related_activities": "true",
        },
        "agent": lambda: {"agent": agent()},
        "agent+verb+since": lambda: {"agent": agent(), "verb": verb(), "since": meta["mid"]},
        "registration": lambda: {"registration": registration(*who_course())},
        "since": lambda: {"since": meta["mid"]},
        "newest page": lambda: {},
        "by id": lambda: {"statementId": rng.choice(meta["ids"])},
    }


async def run_shape(
    client: Client, paths: list[str], keep_more: list[str] | None = None
) -> tuple[list[float], float]:
    """GET every path at QUERY_CONCURRENCY; latencies (sorted) and mean statements per answer."""
    queue = iter(paths)
    latencies: list[float] = []
    returned = 0

    async def worker() -> None:
        nonlocal returned
        for path in queue:
            elapsed, body = await client.get(path)
            latencies.append(elapsed)
            returned += len(body.get("statements", [body]))
            if keep_more is not None and body.get("more"):
                keep_more.append(body["more"])

    await asyncio.gather(*(worker() for _ in range(QUERY_CONCURRENCY)))
    return sorted(latencies), returned / max(1, len(paths))


def _path(params: dict[str, str]) -> str:
    if "statementId" not in params:  # which takes no other parameter
        params = {**params, "limit": str(LIMIT)}
    return "/xapi/statements?" + urlencode(params)


def report(name: str, latencies: list[float], mean_count: float) -> None:
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    print(
        f"  {name:<18} n={len(latencies):<5} p50 {p50 * 1000:8.1f} ms  p95 {p95 * 1000:8.1f} ms"
        f"  max {latencies[-1] * 1000:8.1f} ms  statements/answer {mean_count:6.1f}"
    )


async def run_queries(client: Client, meta: dict[str, Any], queries: int, seed: int) -> None:
    rng = random.Random(seed + 1)
    more: list[str] = []
    for name, make in shapes(rng, meta).items():
        paths = [_path(make()) for _ in range(queries)]
        keep = more if name in ("verb", "course+related") else None
        latencies, mean_count = await run_shape(client, paths, keep)
        report(name, latencies, mean_count)
    if more:
        rng.shuffle(more)
        latencies, mean_count = await run_shape(client, more[:queries])
        report("more pages", latencies, mean_count)


async def run(args: argparse.Namespace) -> int:
    main_task = asyncio.current_task()
    if main_task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    print("LRS query benchmark (tests/perf/query.py)")
    print(f"machine: os.cpu_count()={os.cpu_count()}  CPU probe {cpu_probe_ms():.0f} ms")
    with contextlib.ExitStack() as stack:
        if args.data_dir:
            root = Path(args.data_dir)
            root.mkdir(parents=True, exist_ok=True)
            if not args.keep:
                stack.callback(lambda: _remove(root))
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lrs-query-")))
        return await measure(root, args)


def _remove(root: Path) -> None:
    import shutil

    shutil.rmtree(root, ignore_errors=True)


async def measure(root: Path, args: argparse.Namespace) -> int:
    env = {**os.environ, "LRS_DATA_DIR": str(root / "data"), "LRS_HOST": "127.0.0.1"}
    env.pop("LRS_MONGODB_URI", None)
    meta_path = root / META
    meta = orjson.loads(meta_path.read_bytes()) if meta_path.exists() else None
    creds = create_credential(env) if meta is None else (meta["key"], meta["secret"])
    server = Server(env, _free_port(), root / "server.log")
    try:
        opened = await server.wait_ready(timeout=600)
        print(f"server: ready in {opened:.1f} s (data dir {root})")
        client = Client(server.base, *creds, LOAD_CONCURRENCY)
        try:
            if meta is None:
                meta = await load(client, args.statements, args.seed)
                meta["key"], meta["secret"] = creds
                meta_path.write_bytes(orjson.dumps(meta))
                rate = meta["statements"] / meta["load_s"]
                count, took = meta["statements"], meta["load_s"]
                print(f"load: {count} statements in {took:.0f} s ({rate:.0f}/s)")
            else:
                print(f"load: re-used, {meta['statements']} statements (seed {meta['seed']})")
            print(
                f"queries: {args.queries} per shape, concurrency {QUERY_CONCURRENCY}, "
                f"limit {LIMIT}, seed {args.seed}"
            )
            await run_queries(client, meta, args.queries, args.seed)
        finally:
            await client.session.close()
    finally:
        server.stop()
    print(f"CPU probe after: {cpu_probe_ms():.0f} ms")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=1_000_000, help="statements to load")
    parser.add_argument("--seed", type=int, default=1, help="seed of statements and queries")
    parser.add_argument("--queries", type=int, default=300, help="queries per shape")
    parser.add_argument("--data-dir", default=None, help="load into / re-use this directory")
    parser.add_argument("--keep", action="store_true", help="keep --data-dir afterwards")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: the server was stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
