"""Delivery mix: issue 18's evidence run, a healthy, a slow and a failing receiver side by side.

Run by hand, never in CI:

    python -m tests.perf.delivery_mix [--statements 2000] [--members 200] [--seed 1]
                                      [--slow-seconds S] [--webhook-timeout T]
                                      [--max-attempts N] [--json]

What it does:

1. Makes a temporary data directory, creates a credential, imports an HRIS file for
   `--members` members (`lrs identities import`: employee id and email each), and subscribes
   three receivers in this process, unfiltered (every event): `/healthy` answers 204 at once,
   `/slow` answers 204 after `--slow-seconds` (by default just under the webhook timeout, so
   its deliveries succeed late; pass a value above `--webhook-timeout` to make every attempt
   time out instead), `/failing` answers 500 always. Every receiver verifies the signature of
   every delivery (`projections.webhook_verify`) before answering.
2. Starts `lrs serve --with-worker` with `LRS_WEBHOOK_TIMEOUT=--webhook-timeout` (shipped: 10 s)
   and `LRS_WEBHOOK_MAX_ATTEMPTS=--max-attempts` (shipped: 8; shortened here so the failing
   receiver's deliveries become dead letters within the run rather than after minutes of
   backoff), `LRS_WEBHOOK_ALLOW_INTERNAL=1` (receivers on 127.0.0.1), `LRS_METRICS_PUBLIC=1`.
3. Posts `--statements` statements through `POST /xapi/statements` in batches of 100, made by
   `statement_mix` from `--seed`: mostly course statements of matched members (completions,
   scores on a 0-100 scale), and a few of each kind the data-quality queue records: actors
   nobody in the HRIS file is (the shipped policy holds them), scores without a usable scale,
   out-of-scope activities (discussion posts) that carry a score, certificate URLs that are
   not URLs; and a few voids of earlier statements.
4. Polls `/metrics` (with a deadline, `--settle-timeout`) until nothing awaits projection or
   fan-out and no delivery is pending (delivered or dead-lettered), then runs `lrs reconcile`
   and `lrs quality list --json`, reads the webhook counters per subscription from `/metrics`,
   and prints a table (or `--json`): per receiver, events verified at the receiver, events it
   acknowledged with a 2xx, events expected (every event any receiver verified; the
   subscriptions are unfiltered, so each is owed all of them), delivery %, dead letters, the
   server's success / failure attempt counters; drift after reconcile; quality counts by
   reason; and the CPU probe (`tests.perf.ingest.cpu_probe_ms`). `--receivers healthy` runs
   the healthy receiver alone: the baseline its figures beside the others compare with.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from projections.webhook_verify import EVENT_ID_HEADER, SIGNATURE_HEADER, verify_webhook
from tests.perf.ingest import cpu_probe_ms
from tests.perf.token_stall import free_port, wait_up

HERE = Path(__file__).resolve().parents[2]
ADL = "http://adlnet.gov/expapi/verbs/"
COURSE = "http://adlnet.gov/expapi/activities/course"
DISCUSSION = "http://id.tincanapi.com/activitytype/discussion"
CERTIFICATE = "urn:lrs-marketplace:extension:certificate"
RECEIVERS = ("healthy", "slow", "failing")
COURSES, COURSES_PER_MEMBER, BATCH = 60, 4, 100
# share of each kind of statement; the rest are clean course statements of matched members
MIX = {"unknown_actor": 0.05, "bad_scale": 0.04, "out_of_scope": 0.04, "bad_cert": 0.01}
VOID_SHARE = 0.02


def member_email(n: int) -> str:
    return f"m{n}@corp.example.com"


def hris_csv(members: int) -> str:
    """The HRIS file: employee id and email per member."""
    rows = [f"E{n:05d},{member_email(n)}" for n in range(members)]
    return "employee_id,email\n" + "\n".join(rows) + "\n"


def _course_statement(rng: random.Random, actor: dict[str, Any], course: int) -> dict[str, Any]:
    verb = rng.choice(("experienced", "attempted", "completed", "passed", "failed", "scored"))
    made: dict[str, Any] = {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "actor": actor,
        "verb": {"id": ADL + verb, "display": {"en-US": verb}},
        "object": {
            "objectType": "Activity",
            "id": f"https://lms.example.com/courses/{course}",
            "definition": {"name": {"en-US": f"Course {course}"}, "type": COURSE},
        },
    }
    if verb in ("completed", "passed", "failed", "scored"):
        raw = rng.randrange(0, 101)
        made["result"] = {"score": {"raw": raw, "min": 0, "max": 100}}
        if verb == "completed":
            made["result"]["completion"] = True
    return made


def _flawed(rng: random.Random, kind: str, member: int, course: int) -> dict[str, Any]:
    """A statement of one of the kinds the quality queue records."""
    actor = {"objectType": "Agent", "mbox": "mailto:" + member_email(member)}
    if kind == "unknown_actor":
        actor = {"objectType": "Agent", "mbox": f"mailto:guest{rng.randrange(50)}@else.example"}
    made = _course_statement(rng, actor, course)
    made["verb"] = {"id": ADL + "completed", "display": {"en-US": "completed"}}
    made["result"] = {"completion": True, "score": {"raw": 80, "min": 0, "max": 100}}
    if kind == "bad_scale":
        made["result"]["score"] = {"raw": rng.randrange(101, 900)}  # no max, beyond 0-100
    elif kind == "out_of_scope":
        made["object"]["id"] = f"https://lms.example.com/forum/{rng.randrange(1000)}"
        made["object"]["definition"] = {"type": DISCUSSION}
        made["result"] = {"score": {"raw": 1, "min": 0, "max": 1}}
    elif kind == "bad_cert":
        made["result"]["extensions"] = {CERTIFICATE: "certificate pending"}
    return made


def statement_mix(rng: random.Random, count: int, members: int) -> list[dict[str, Any]]:
    """`count` statements: mostly clean ones of matched members, the shares of MIX flawed,
    about VOID_SHARE voiding an earlier clean one. Deterministic for a given `rng` seed."""
    courses = [rng.sample(range(COURSES), COURSES_PER_MEMBER) for _ in range(members)]
    kinds, weights = list(MIX), list(MIX.values())
    clean_share = 1.0 - sum(weights) - VOID_SHARE
    made: list[dict[str, Any]] = []
    voidable: list[str] = []
    for _ in range(count):
        member = rng.randrange(members)
        course = rng.choice(courses[member])
        draw = rng.random()
        if draw < clean_share or (draw >= 1.0 - VOID_SHARE and not voidable):
            actor = {"objectType": "Agent", "mbox": "mailto:" + member_email(member)}
            made.append(_course_statement(rng, actor, course))
            voidable.append(made[-1]["id"])
        elif draw >= 1.0 - VOID_SHARE:
            target = voidable.pop(rng.randrange(len(voidable)))
            made.append(_void(rng, target))
        else:
            kind = rng.choices(kinds, weights=weights)[0]
            made.append(_flawed(rng, kind, member, course))
    return made


def _void(rng: random.Random, target: str) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "actor": {"objectType": "Agent", "mbox": "mailto:admin@corp.example.com"},
        "verb": {"id": ADL + "voided", "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": target},
    }


def percent(part: float, whole: float) -> float:
    """`part` of `whole` in %, two decimals; 100 when nothing was owed."""
    return round(100.0 * part / whole, 2) if whole else 100.0


def labelled(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus exposition (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@dataclass
class Receivers:
    """The marketplace ends: each verifies every delivery, then answers as it is told to."""

    slow_seconds: float
    secrets: dict[str, str] = field(default_factory=dict)  # name → secret
    verified: dict[str, set[str]] = field(default_factory=dict)  # name → event ids
    # name → event ids answered 2xx on a connection still open (the sender got the answer)
    acknowledged: dict[str, set[str]] = field(default_factory=dict)
    last_ack: dict[str, float] = field(default_factory=dict)  # name → perf_counter time
    bad: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        name = request.match_info["name"]
        try:
            event = verify_webhook(self.secrets[name], body, request.headers.get(SIGNATURE_HEADER))
        except Exception:  # a bad signature is counted, and answered so it is not retried
            self.bad += 1
            return web.Response(status=400)
        event_id = str(event.get("id") or request.headers.get(EVENT_ID_HEADER))
        self.verified.setdefault(name, set()).add(event_id)
        if name == "failing":
            return web.Response(status=500)
        if name == "slow":
            await asyncio.sleep(self.slow_seconds)
            if request.transport is None or request.transport.is_closing():
                return web.Response(status=204)  # the sender gave up (timeout): not delivered
        self.acknowledged.setdefault(name, set()).add(event_id)
        self.last_ack[name] = time.perf_counter()
        return web.Response(status=204)


def lrs(env: dict[str, str], *args: str, ok: tuple[int, ...] = (0,)) -> str:
    """Run the `lrs` command; its standard output."""
    command = [sys.executable, "-m", "lrs.cli", *args]
    done = subprocess.run(command, env=env, cwd=HERE, capture_output=True, check=False)
    if done.returncode not in ok:
        raise SystemExit(f"lrs {' '.join(args[:2])} failed: {done.stderr.decode()[-2000:]}")
    return done.stdout.decode()


def setup(
    env: dict[str, str], members: int, hook: str, receivers: Receivers, names: list[str]
) -> str:
    """Credential, HRIS import, a subscription per receiver named; the Basic auth header."""
    out = lrs(env, "credentials", "create", "--name", "bench", "--scopes", "all", "--json")
    created = orjson.loads(out.strip().splitlines()[-1])
    hris = Path(env["LRS_DATA_DIR"]) / "hris.csv"
    hris.write_text(hris_csv(members))
    lrs(env, "identities", "import", str(hris))
    for name in names:
        sub = orjson.loads(lrs(env, "webhooks", "subscribe", "--url", f"{hook}/{name}", "--json"))
        receivers.secrets[name] = sub["secret"]
        receivers.secrets["id:" + name] = sub["id"]
    token = base64.b64encode(f"{created['key']}:{created['secret']}".encode()).decode()
    return f"Basic {token}"


async def post_all(base: str, auth: str, statements: list[dict[str, Any]]) -> float:
    """POST the statements in batches of BATCH, 8 at a time; seconds taken."""
    headers = {
        "Authorization": auth,
        "X-Experience-API-Version": "1.0.3",
        "Content-Type": "application/json",
    }
    gate = asyncio.Semaphore(8)

    async def one(session: aiohttp.ClientSession, body: bytes) -> None:
        async with gate, session.post(base + "/xapi/statements", data=body, headers=headers) as r:
            text = await r.text()
            if r.status != 200:
                raise SystemExit(f"POST answered {r.status}: {text[:500]}")

    bodies = [orjson.dumps(statements[i : i + BATCH]) for i in range(0, len(statements), BATCH)]
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        # voids name earlier statements: send in order, a batch only after the ones before
        for body in bodies:
            await one(session, body)
    return time.perf_counter() - started


async def metrics_text(session: aiohttp.ClientSession, base: str) -> str:
    async with session.get(base + "/metrics") as response:
        return await response.text()


async def settle(base: str, deadline_s: float) -> tuple[float, bool]:
    """Seconds until nothing awaits projection or fan-out and no delivery is pending (two
    polls in a row), and whether that happened before the deadline."""
    started = time.perf_counter()
    quiet = 0
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() < started + deadline_s:
            text = await metrics_text(session, base)
            waiting = sum(
                labelled(text, name)
                for name in (
                    "lrs_projection_statements_awaiting",
                    "lrs_webhook_events_unfanned",
                    "lrs_webhook_deliveries_pending",
                )
            )
            quiet = quiet + 1 if waiting == 0 else 0
            if quiet >= 2:
                return time.perf_counter() - started, True
            await asyncio.sleep(0.5)
    return time.perf_counter() - started, False


def latency_p95_bound(text: str, sub: str) -> float | None:
    """The upper bound of the latency histogram bucket holding the 95th percentile."""
    name = "lrs_webhook_delivery_latency_seconds_bucket"
    buckets = []
    for line in text.splitlines():
        if line.startswith(name + "{") and f'subscription="{sub}"' in line:
            bound = re.search(r'le="([^"]+)"', line)
            if bound:
                buckets.append((float(bound.group(1)), float(line.rsplit(" ", 1)[1])))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0.0
    return next((b for b, count in buckets if count >= 0.95 * total), None) if total else None


def per_receiver(receivers: Receivers, text: str, posted_at: float) -> list[dict[str, Any]]:
    """The delivery figures of each receiver."""
    expected = set().union(*receivers.verified.values()) if receivers.verified else set()
    rows = []
    for name in (n for n in RECEIVERS if "id:" + n in receivers.secrets):
        sub = receivers.secrets["id:" + name]
        acked = receivers.acknowledged.get(name, set())
        rows.append(
            {
                "receiver": name,
                "subscription": sub,
                "expected": len(expected),
                "verified": len(receivers.verified.get(name, set())),
                "acknowledged": len(acked),
                "delivery_percent": percent(len(acked & expected), len(expected)),
                "last_2xx_after_post_s": (
                    round(receivers.last_ack[name] - posted_at, 2)
                    if name in receivers.last_ack
                    else None
                ),
                "latency_p95_le_s": latency_p95_bound(text, sub),
                "dead_letters": labelled(
                    text, "lrs_webhook_deliveries_dead_lettered_total", subscription=sub
                ),
                "attempts_success": labelled(
                    text, "lrs_webhook_delivery_attempts_total", subscription=sub, outcome="success"
                ),
                "attempts_failure": labelled(
                    text, "lrs_webhook_delivery_attempts_total", subscription=sub, outcome="failure"
                ),
            }
        )
    return rows


def quality_counts(env: dict[str, str]) -> dict[str, int]:
    listed = orjson.loads(lrs(env, "quality", "list", "--json", "--limit", "1"))
    groups = listed["reasons"] if isinstance(listed, dict) else listed
    return {g["reason"]: int(g["count"]) for g in groups}


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:g} s"


def print_table(result: dict[str, Any]) -> None:
    print(
        f"{'receiver':<9} {'expected':>8} {'verified':>8} {'2xx':>6} {'deliv %':>8} "
        f"{'dead':>6} {'ok att.':>8} {'failed att.':>11} {'last 2xx':>9} {'p95 <=':>7}"
    )
    for r in result["receivers"]:
        print(
            f"{r['receiver']:<9} {r['expected']:>8} {r['verified']:>8} {r['acknowledged']:>6} "
            f"{r['delivery_percent']:>8.2f} {r['dead_letters']:>6.0f} "
            f"{r['attempts_success']:>8.0f} {r['attempts_failure']:>11.0f} "
            f"{_seconds(r['last_2xx_after_post_s']):>9} {_seconds(r['latency_p95_le_s']):>7}"
        )
    rec = result["reconcile"]
    print(
        f"reconcile: records expected {rec['expected_records']}, stored {rec['stored_records']}, "
        f"drift {rec['drift']} ({rec['drift_percent']}%)"
    )
    print("quality queue: " + ", ".join(f"{k} {v}" for k, v in result["quality"].items()))
    print(
        f"posted {result['statements']} statements in {result['post_seconds']:.1f} s; settled "
        f"{'in' if result['settled'] else 'NOT within'} {result['settle_seconds']:.1f} s; "
        f"bad signatures {result['bad_signatures']}; CPU probe {result['cpu_probe_ms']:.0f} ms"
    )


async def measure(args: argparse.Namespace, env: dict[str, str], rec: Receivers) -> dict[str, Any]:
    """Serve, post, settle, reconcile; the figures."""
    port = free_port()
    log = (Path(env["LRS_DATA_DIR"]) / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "lrs.cli", "serve", "--with-worker", "--port", str(port)],
        env=env,
        cwd=HERE,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_up(base)
        statements = statement_mix(random.Random(args.seed), args.statements, args.members)
        posted = await post_all(base, env["BENCH_AUTH"], statements)
        posted_at = time.perf_counter()
        settled_s, settled = await settle(base, args.settle_timeout)
        out = lrs(env, "reconcile", "--json", ok=(0, 1))
        reconcile = orjson.loads(out)
        async with aiohttp.ClientSession() as session:
            text = await metrics_text(session, base)
        return {
            "statements": len(statements),
            "members": args.members,
            "seed": args.seed,
            "slow_seconds": args.slow_seconds,
            "webhook_timeout": args.webhook_timeout,
            "max_attempts": args.max_attempts,
            "subscribed": args.receivers,
            "post_seconds": posted,
            "settle_seconds": settled_s,
            "settled": settled,
            "receivers": per_receiver(rec, text, posted_at),
            "reconcile": reconcile,
            "quality": quality_counts(env),
            "bad_signatures": rec.bad,
            "cpu_probe_ms": cpu_probe_ms(),
        }
    finally:
        server.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=30)
        if server.poll() is None:
            server.kill()
        log.close()


async def main_async(args: argparse.Namespace) -> int:
    rec = Receivers(slow_seconds=args.slow_seconds)
    app = web.Application()
    app.router.add_post("/{name}", rec.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    hook_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", hook_port).start()
    try:
        with tempfile.TemporaryDirectory(prefix="lrs-delivery-mix-") as data:
            env = {**os.environ, "LRS_DATA_DIR": data, "PYTHONPATH": str(HERE)}
            env["LRS_WEBHOOK_ALLOW_INTERNAL"] = "1"  # the receivers listen on 127.0.0.1
            env["LRS_METRICS_PUBLIC"] = "1"  # read from /metrics, on loopback only
            env["LRS_WEBHOOK_TIMEOUT"] = str(args.webhook_timeout)
            env["LRS_WEBHOOK_MAX_ATTEMPTS"] = str(args.max_attempts)
            env.pop("LRS_WORKER_POLL", None)
            hook = f"http://127.0.0.1:{hook_port}"
            env["BENCH_AUTH"] = setup(env, args.members, hook, rec, args.receivers)
            result = await measure(args, env, rec)
    finally:
        await runner.cleanup()
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    else:
        print_table(result)
    return 0 if result["settled"] else 1


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--statements", type=int, default=2000, help="statements posted")
    parser.add_argument("--members", type=int, default=200, help="members in the HRIS file")
    parser.add_argument("--seed", type=int, default=1, help="seed of the statement mix")
    parser.add_argument(
        "--slow-seconds", type=float, default=1.5, help="the slow receiver's answer delay"
    )
    parser.add_argument(
        "--webhook-timeout", type=float, default=2.0, help="LRS_WEBHOOK_TIMEOUT (shipped: 10)"
    )
    parser.add_argument(
        "--max-attempts", type=int, default=3, help="LRS_WEBHOOK_MAX_ATTEMPTS (shipped: 8)"
    )
    parser.add_argument(
        "--settle-timeout", type=float, default=900.0, help="seconds to wait for settling"
    )
    parser.add_argument(
        "--receivers",
        default=",".join(RECEIVERS),
        help="receivers subscribed, of healthy,slow,failing (healthy alone: a baseline)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    args.receivers = [n for n in args.receivers.split(",") if n]
    if not args.receivers or set(args.receivers) - set(RECEIVERS):
        parser.error(f"--receivers: a comma-separated subset of {','.join(RECEIVERS)}")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main_async(parse(sys.argv[1:]))))
