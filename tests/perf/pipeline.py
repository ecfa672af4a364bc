"""Pipeline benchmark: statement POST → projection → signed webhook, against a real server.

Run by hand, never in CI:

    python -m tests.perf.pipeline [--source DIR] [--seconds N] [--rate R] [--burst N]
                                 [--sustained-rate R] [--sustained-seconds N] [--seed S]

What it does:

1. Makes a temporary data directory, creates a credential (`lrs credentials create`), loads
   an HRIS identity file (`lrs identities load`: employee id and email per member, so every
   actor below is a matched member), and subscribes two webhooks (`lrs webhooks subscribe`)
   to a local aiohttp receiver in this process, then starts `lrs serve --with-worker` on a
   free port with default settings. `--source` runs the server and the commands from another
   checkout (e.g. `git worktree add /tmp/old main`), for a before/after comparison.
2. The receiver verifies every delivery's signature (`projections.webhook_verify`) and notes
   when it arrived. Every measured statement is about an activity of its own, so its record's
   `learning.created` event names it: latency is the time from the POST's 200 to the verified
   receipt of that event, on one clock (this process's).
3. Scenarios, in order:
   - paced: single-statement POSTs at `--rate` a second for `--seconds`;
   - burst: `--burst` single-statement POSTs at once (concurrency 64);
   - slow neighbour: a second subscription whose receiver answers after 15 s is added, then
     the paced run again; the healthy receiver's latency is what counts;
   - sustained: batches of 100 at `--sustained-rate` statements a second for
     `--sustained-seconds`, to members no subscription asks for; the projection lag is
     sampled from `/metrics` (`lrs_projection_lag_seconds`) four times a second, and the
     time from the last 200 until nothing awaits projection is printed.
4. Prints p50/p95/max per scenario, deliveries that never arrived, the server's CPU seconds
   and the CPU probe (`tests.perf.ingest.cpu_probe_ms`): on a shared machine, compare runs
   taken back to back only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from projections.webhook_verify import SIGNATURE_HEADER, verify_webhook
from tests.perf.ingest import cpu_probe_ms, cpu_seconds, percentile
from tests.perf.token_stall import free_port, wait_up

HERE = Path(__file__).resolve().parents[2]
HRIS_HOME = "https://hris.example.com"
VERB = "http://adlnet.gov/expapi/verbs/completed"
WATCHED_MEMBERS = 200  # members the subscriptions ask for; the sustained run uses others
MEMBERS = 1000
SLOW_ANSWER_S = 15.0
DRAIN_TIMEOUT_S = 120.0


def lrs(source: Path, env: dict[str, str], *args: str) -> str:
    """Run the `lrs` command from `source`; its standard output."""
    command = [sys.executable, "-m", "lrs.cli", *args]
    done = subprocess.run(command, env=env, cwd=source, capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"lrs {' '.join(args[:2])} failed: {done.stderr.decode()[-2000:]}")
    return done.stdout.decode()


@dataclass
class Receiver:
    """The marketplace's end: verifies each delivery and notes when it arrived."""

    secrets: dict[str, str] = field(default_factory=dict)  # path → secret
    delays: dict[str, float] = field(default_factory=dict)
    arrived: dict[str, dict[str, float]] = field(default_factory=dict)  # path → activity → t
    bad: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.perf_counter()
        path = request.path
        try:
            event = verify_webhook(self.secrets[path], body, request.headers.get(SIGNATURE_HEADER))
        except Exception:  # a bad signature is counted, and answered so it is not retried
            self.bad += 1
            return web.Response(status=400)
        self.arrived.setdefault(path, {}).setdefault(event["activity_id"], now)
        if self.delays.get(path):
            await asyncio.sleep(self.delays[path])
        return web.Response(status=204)


@dataclass
class Run:
    """One server under test and its client side."""

    base: str
    auth: str
    receiver: Receiver
    rng: random.Random
    posted: dict[str, float] = field(default_factory=dict)  # activity → time of the 200

    def statement(self, member: int) -> tuple[str, dict[str, Any]]:
        activity = f"https://courses.example.com/{uuid.UUID(int=self.rng.getrandbits(128))}"
        statement = {
            "id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "actor": {"mbox": f"mailto:m{member}@corp.example.com", "objectType": "Agent"},
            "verb": {"id": VERB, "display": {"en-US": "completed"}},
            "object": {
                "id": activity,
                "definition": {
                    "name": {"en-US": "Course"},
                    "type": "http://adlnet.gov/expapi/activities/course",
                },
            },
            "result": {"completion": True, "score": {"scaled": round(self.rng.random(), 2)}},
        }
        return activity, statement

    async def post(self, session: aiohttp.ClientSession, body: Any) -> None:
        headers = {
            "Authorization": self.auth,
            "X-Experience-API-Version": "1.0.3",
            "Content-Type": "application/json",
        }
        async with session.post(
            self.base + "/xapi/statements", data=orjson.dumps(body), headers=headers
        ) as response:
            await response.read()
            if response.status != 200:
                raise SystemExit(f"POST answered {response.status}")

    async def post_one(self, session: aiohttp.ClientSession) -> None:
        activity, statement = self.statement(self.rng.randrange(WATCHED_MEMBERS))
        await self.post(session, statement)
        self.posted[activity] = time.perf_counter()


async def paced(run: Run, rate: float, seconds: float) -> list[str]:
    """Single-statement POSTs started at a steady rate; the activities posted."""
    before = set(run.posted)
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        tasks = []
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(run.post_one(session)))
        await asyncio.gather(*tasks)
    return [a for a in run.posted if a not in before]


async def burst(run: Run, count: int, concurrency: int = 64) -> list[str]:
    """`count` single-statement POSTs at once, `concurrency` in flight."""
    before = set(run.posted)
    gate = asyncio.Semaphore(concurrency)

    async def one(session: aiohttp.ClientSession) -> None:
        async with gate:
            await run.post_one(session)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        await asyncio.gather(*(one(s) for _ in range(count)))
        drained = await drain(s, run.base)
    print(f"{'burst: last 200 → none awaiting':<34} {drained * 1000:8.1f} ms", flush=True)
    return [a for a in run.posted if a not in before]


async def latencies(run: Run, path: str, activities: list[str]) -> tuple[list[float], int]:
    """Receipt minus 200 per activity (waiting up to DRAIN_TIMEOUT_S); and how many never came."""
    deadline = time.perf_counter() + DRAIN_TIMEOUT_S
    arrived = run.receiver.arrived.setdefault(path, {})
    while time.perf_counter() < deadline and any(a not in arrived for a in activities):
        await asyncio.sleep(0.05)
    got = sorted(arrived[a] - run.posted[a] for a in activities if a in arrived)
    return got, sum(1 for a in activities if a not in arrived)


async def metric(session: aiohttp.ClientSession, base: str, name: str) -> float | None:
    async with session.get(base + "/metrics") as response:
        text = await response.text()
    found = re.search(rf"^{name} ([0-9.eE+-]+)$", text, re.M)
    return float(found.group(1)) if found else None


async def sustained(run: Run, rate: float, seconds: float) -> tuple[list[float], float]:
    """Batches of 100 to unwatched members at `rate`; lag samples and the drain time."""
    batch, samples, done = 100, [], asyncio.Event()

    async def sample(session: aiohttp.ClientSession) -> None:
        while not done.is_set():
            lag = await metric(session, run.base, "lrs_projection_lag_seconds")
            samples.append(lag or 0.0)
            await asyncio.sleep(0.25)

    async with aiohttp.ClientSession() as session:
        sampler = asyncio.create_task(sample(session))
        started = time.perf_counter()
        tasks = []
        for i in range(int(rate * seconds / batch)):
            await asyncio.sleep(max(0.0, started + i * batch / rate - time.perf_counter()))
            members = [run.rng.randrange(WATCHED_MEMBERS, MEMBERS) for _ in range(batch)]
            body = [run.statement(m)[1] for m in members]
            tasks.append(asyncio.create_task(run.post(session, body)))
        await asyncio.gather(*tasks)
        drained = await drain(session, run.base)
        done.set()
        await sampler
    return samples, drained


async def drain(session: aiohttp.ClientSession, base: str) -> float:
    """Seconds from now until no statement awaits projection."""
    started = time.perf_counter()
    while time.perf_counter() < started + DRAIN_TIMEOUT_S:
        if await metric(session, base, "lrs_projection_statements_awaiting") == 0:
            break
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


def report(name: str, values: list[float], missing: int = 0) -> None:
    ordered = sorted(values)
    print(
        f"{name:<34} n={len(values):>5}  p50 {percentile(ordered, 50) * 1000:8.1f} ms  "
        f"p95 {percentile(ordered, 95) * 1000:8.1f} ms  max {max(ordered or [0]) * 1000:8.1f} ms"
        + (f"  never arrived: {missing}" if missing else ""),
        flush=True,
    )


def setup(source: Path, env: dict[str, str], hook: str, receiver: Receiver) -> str:
    """Credential, identities, the healthy subscription; the Basic auth header."""
    created = orjson.loads(
        lrs(source, env, "credentials", "create", "--name", "bench", "--scopes", "all", "--json")
        .strip()
        .splitlines()[-1]
    )
    hris = Path(env["LRS_DATA_DIR"]) / "hris.csv"
    rows = [f"E{m:05d},m{m}@corp.example.com" for m in range(MEMBERS)]
    hris.write_text("employee_id,email\n" + "\n".join(rows) + "\n")
    lrs(source, env, "identities", "load", str(hris))
    subscribe(source, env, hook + "/healthy", receiver)
    token = base64.b64encode(f"{created['key']}:{created['secret']}".encode()).decode()
    return f"Basic {token}"


def subscribe(source: Path, env: dict[str, str], url: str, receiver: Receiver) -> str:
    members = [a for m in range(WATCHED_MEMBERS) for a in ("--member", f"E{m:05d}")]
    args = ("webhooks", "subscribe", "--url", url, *members, "--json")
    created = orjson.loads(lrs(source, env, *args))
    receiver.secrets["/" + url.rsplit("/", 1)[1]] = created["secret"]
    return str(created["id"])


async def scenarios(
    args: argparse.Namespace, run: Run, on_slow: Callable[[], None], cpu: Callable[[], float]
) -> None:
    healthy = "/healthy"
    used = cpu()

    def spent(what: str) -> None:
        nonlocal used
        now = cpu()
        print(f"{'  server CPU, ' + what:<34} {now - used:8.1f} s", flush=True)
        used = now

    posted = await paced(run, args.rate, args.seconds)
    report(f"paced {args.rate:g}/s, healthy", *await latencies(run, healthy, posted))
    spent("paced")
    posted = await burst(run, args.burst)
    report(f"burst of {args.burst}, healthy", *await latencies(run, healthy, posted))
    spent("burst")
    on_slow()
    posted = await paced(run, args.rate, args.seconds)
    report(f"paced {args.rate:g}/s beside a 15 s one", *await latencies(run, healthy, posted))
    spent("paced beside a slow one")
    samples, drained = await sustained(run, args.sustained_rate, args.sustained_seconds)
    report(f"sustained {args.sustained_rate:g}/s, lag", samples)
    print(f"{'sustained: last 200 → none awaiting':<34} {drained * 1000:8.1f} ms", flush=True)
    spent("sustained")


async def main_async(args: argparse.Namespace) -> int:
    receiver = Receiver(delays={"/slow": SLOW_ANSWER_S})
    app = web.Application()
    app.router.add_post("/{name}", receiver.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    hook_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", hook_port).start()
    hook = f"http://127.0.0.1:{hook_port}"
    source = Path(args.source).resolve()
    with tempfile.TemporaryDirectory(prefix="lrs-pipeline-") as data:
        env = {**os.environ, "LRS_DATA_DIR": data, "PYTHONPATH": str(source)}
        env["LRS_WEBHOOK_ALLOW_INTERNAL"] = "1"  # the receivers listen on 127.0.0.1
        env["LRS_METRICS_PUBLIC"] = "1"  # the lag is sampled from /metrics, on loopback only
        env.pop("LRS_WORKER_POLL", None)
        auth = setup(source, env, hook, receiver)
        port = free_port()
        log = (Path(data) / "server.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "lrs.cli", "serve", "--with-worker", "--port", str(port)],
            env=env,
            cwd=source,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_up(base)
            print(f"source {source}; CPU probe {cpu_probe_ms():.0f} ms", flush=True)
            run = Run(base, auth, receiver, random.Random(args.seed))

            def add_slow() -> None:
                subscribe(source, env, hook + "/slow", receiver)

            await scenarios(args, run, add_slow, lambda: cpu_seconds(server.pid) or 0.0)
            print(
                f"server CPU {cpu_seconds(server.pid) or 0:.1f} s; bad signatures "
                f"{receiver.bad}; CPU probe {cpu_probe_ms():.0f} ms",
                flush=True,
            )
        finally:
            server.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=30)
            if server.poll() is None:
                server.kill()
            log.close()
            await runner.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=str(HERE), help="checkout the server runs from")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of a paced run")
    parser.add_argument("--rate", type=float, default=50.0, help="paced statements a second")
    parser.add_argument("--burst", type=int, default=2000, help="POSTs in the burst")
    parser.add_argument("--sustained-rate", type=float, default=2000.0)
    parser.add_argument("--sustained-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=20261203)
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
