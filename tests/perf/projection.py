"""Projection benchmark: one worker draining a backlog, against the ingest rate of this machine.

Run by hand, never in CI:

    python -m tests.perf.projection [--statements N] [--matched-share F] [--seed S]
                                    [--batch B] [--workers W] [--keep DIR] [--keep-backlog DIR]
    python -m tests.perf.projection --drain-only DIR [--repeat R] [--profile FILE]

What it does, in order:

1. Generates a backlog from `random.Random(seed)` of a realistic mix: learners of whom
   `--matched-share` of the statements come from HRIS members (half identified by their HRIS
   account, half by an email the identity file lists), the rest from learners the HRIS does
   not know; each learner repeats a few courses of a catalogue (many statements per member
   and activity); ADL verbs with results and scores; about 2% voiding statements of earlier
   ones. Every statement has an id.
2. Makes a temporary data directory, creates a credential and loads the identity file with
   the `lrs` command (`lrs credentials create`, `lrs identities load`), starts `lrs serve` (no
   worker) and POSTs the backlog through the API at batch 100 / concurrency 8 (the ingest
   benchmark's client, `tests/perf/ingest.py`); the time of that load is the ingest rate.
3. Stops the server and drains the backlog with one projection worker in this process (the
   one `lrs worker` runs, `open_projection` with the settings from the environment, webhooks
   not delivered), timing the drain: the projection rate. It checks nothing is left awaiting.
   `--workers W` drains with W workers at once (in this process, on the one store: on
   SQLite they share its single writer).
4. Prints both rates, their ratio (target >= 1.0), the CPU probe before each measurement, and
   the records made. `--keep DIR` keeps the data directory (for `lrs reconcile` timings),
   with `--drain-only` too (the drained copy).

To compare two versions of the worker on the same data, keep a backlog before it is drained
(`--keep-backlog DIR`, written right after the ingest), then drain copies of it with
`--drain-only DIR` under each checkout (`PYTHONPATH=<checkout>`), back to back: each run copies
DIR to a temporary directory and drains the copy `--repeat` times (a fresh copy each time),
printing wall time, the rate and the worker's CPU seconds per statement (process CPU time,
its mapping child's included, which a busy host moves less than the wall time). `--profile
FILE` writes a cProfile of the (last) drain's event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import os
import platform
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lrs.settings import Settings
from lrs.store.factory import open_backend
from projections.service import open_projection
from projections.settings import ProjectionSettings
from projections.worker import ProjectionWorker
from tests.perf.ingest import (
    Outcome,
    Server,
    _free_port,
    _lrs_command,
    batches,
    cpu_probe_ms,
    create_credential,
    encode,
    post_all,
    settle,
)

HRIS = "https://hris.bench.example.com"
ADL = "http://adlnet.gov/expapi/verbs/"
VERBS = {  # name -> weight
    "experienced": 18,
    "attempted": 14,
    "progressed": 14,
    "answered": 14,
    "completed": 10,
    "passed": 7,
    "failed": 5,
    "scored": 8,
    "terminated": 5,
}
COURSES = 300
COURSES_PER_LEARNER = 5
STATEMENTS_PER_LEARNER = 40
VOID_SHARE = 0.02
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
XAPI_VERSION = "1.0.3"


class Backlog:
    """Seeded learners (matched or not), their courses, and statements about them."""

    def __init__(self, rng: random.Random, statements: int, matched_share: float) -> None:
        self.rng = rng
        learners = max(20, statements // STATEMENTS_PER_LEARNER)
        matched = max(1, round(learners * matched_share)) if matched_share > 0 else 0
        self.members = [self._member(n) for n in range(matched)]
        self.strangers = [self._stranger(n) for n in range(learners - matched)]
        self.courses = {
            id(a): rng.sample(range(COURSES), COURSES_PER_LEARNER)
            for a in self.members + self.strangers
        }
        self.matched_share = matched_share
        self.clock = 0

    def _member(self, n: int) -> dict[str, Any]:
        if n % 2:
            return {"objectType": "Agent", "account": {"homePage": HRIS, "name": f"E{n:06d}"}}
        return {"objectType": "Agent", "name": f"Member {n}", "mbox": f"mailto:m{n}@corp.example"}

    def _stranger(self, n: int) -> dict[str, Any]:
        return {"objectType": "Agent", "mbox": f"mailto:guest{n}@elsewhere.example"}

    def identity_csv(self) -> str:
        """The HRIS file: every member, email-identified ones with the address they use."""
        lines = ["employee_id,email,secondary_emails"]
        for n in range(len(self.members)):
            lines.append(f"E{n:06d},m{n}@corp.example,m{n}.alt@corp.example")
        return "\n".join(lines) + "\n"

    def statement(self) -> dict[str, Any]:
        rng = self.rng
        pool = self.members if rng.random() < self.matched_share else self.strangers
        actor = rng.choice(pool or self.members or self.strangers)
        course = rng.choice(self.courses[id(actor)])
        verb = rng.choices(list(VERBS), weights=list(VERBS.values()))[0]
        self.clock += rng.randrange(1, 4_000)
        made: dict[str, Any] = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "actor": actor,
            "verb": {"id": ADL + verb, "display": {"en-US": verb}},
            "object": {
                "objectType": "Activity",
                "id": f"https://lms.bench.example.com/courses/{course}",
                "definition": {
                    "name": {"en-US": f"Course {course}"},
                    "type": "http://adlnet.gov/expapi/activities/course",
                },
            },
            "timestamp": (EPOCH + timedelta(milliseconds=self.clock)).isoformat(),
        }
        if verb in ("passed", "failed", "scored", "answered", "completed"):
            raw = rng.randrange(0, 101)
            made["result"] = {"score": {"raw": raw, "min": 0, "max": 100, "scaled": raw / 100}}
            if verb == "completed":
                made["result"]["completion"] = True
        return made

    def statements(self, count: int) -> list[dict[str, Any]]:
        """`count` statements, about VOID_SHARE of them voiding an earlier one."""
        out: list[dict[str, Any]] = []
        voidable: list[str] = []
        for _ in range(count):
            if voidable and self.rng.random() < VOID_SHARE:
                target = voidable.pop(self.rng.randrange(len(voidable)))
                out.append(
                    {
                        "id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                        "actor": self.members[0] if self.members else self.strangers[0],
                        "verb": {"id": ADL + "voided"},
                        "object": {"objectType": "StatementRef", "id": target},
                    }
                )
                continue
            made = self.statement()
            out.append(made)
            voidable.append(made["id"])
        return out


def run_lrs(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*_lrs_command(), *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"lrs {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


async def ingest(env: dict[str, str], root: Path, statements: list[dict[str, Any]]) -> Outcome:
    """Load the backlog through `lrs serve` at batch 100 / concurrency 8; the outcome."""
    key, secret = create_credential(env)
    server = Server(env, _free_port(), root / "server.log")
    try:
        await server.wait_ready()
        token = base64.b64encode(f"{key}:{secret}".encode()).decode()
        headers = {
            "Authorization": f"Basic {token}",
            "X-Experience-API-Version": XAPI_VERSION,
            "Content-Type": "application/json",
        }
        requests = [encode(b) for b in batches(statements, 100)]
        outcome = Outcome("ingest", 100, 8, len(requests))
        settle()
        server_before = server.cpu()
        await post_all(server.base, headers, requests, 8, 3600.0, outcome)
        server_after = server.cpu()
        if server_before is not None and server_after is not None:
            outcome.server_cpu_s = server_after - server_before
        await server.quiet()
        return outcome
    finally:
        server.stop()


def process_cpu_s() -> float:
    """CPU seconds of this process and of its children that have ended: the worker's mapping
    child (`projections.mapping_process`) is stopped when a drain ends, so it counts."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


async def drain(
    data_dir: Path, batch: int | None, workers: int = 1, profile: str | None = None
) -> tuple[int, float, float, dict[str, Any]]:
    """`workers` workers (in this process, on one store) drain the backlog together:
    (applied, wall seconds, CPU seconds, status after); `profile`: write a cProfile there."""
    settings = Settings(data_dir=data_dir)
    overrides = {} if batch is None else {"worker_batch": batch}
    projection_settings = ProjectionSettings.from_env().with_overrides(**overrides)
    backend = await open_backend(settings)
    try:
        projection = await open_projection(backend, settings, projection_settings)
        others = [
            ProjectionWorker(
                projection.statements,
                projection.stores,
                projection.projector,
                batch=projection_settings.worker_batch,
                lease_s=projection_settings.worker_lease_s,
            )
            for _ in range(workers - 1)
        ]
        settle()
        profiler = cProfile.Profile() if profile else None
        cpu, started = process_cpu_s(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        done = await asyncio.gather(
            *(w.drain(max_batches=10_000_000) for w in [projection.worker, *others])
        )
        applied = sum(done)
        wall, cpu = time.perf_counter() - started, process_cpu_s() - cpu
        if profiler is not None and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        return applied, wall, cpu, await projection.status()
    finally:
        await backend.close()


async def run(args: argparse.Namespace) -> int:
    print("LRS projection benchmark (tests/perf/projection.py)")
    print(
        f"machine: os.cpu_count()={os.cpu_count()}  python={platform.python_version()}  "
        f"{platform.platform()}  sqlite={sqlite3.sqlite_version}  "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    backlog = Backlog(random.Random(args.seed), args.statements, args.matched_share)
    statements = backlog.statements(args.statements)
    voids = sum(1 for s in statements if s["verb"]["id"].endswith("/voided"))
    print(
        f"backlog: {len(statements)} statements (seed {args.seed}), {voids} voiding; "
        f"{len(backlog.members)} HRIS members, {len(backlog.strangers)} unknown learners, "
        f"matched share {args.matched_share:.0%} of statements; {COURSES} courses, "
        f"{COURSES_PER_LEARNER} per learner"
    )
    tmp = Path(tempfile.mkdtemp(prefix="lrs-projection-", dir=args.tmp))
    try:
        data = tmp / "data"
        env = {
            **os.environ,
            "LRS_DATA_DIR": str(data),
            "LRS_HRIS_HOME_PAGE": HRIS,
            "LRS_HOST": "127.0.0.1",
        }
        env.pop("LRS_MONGODB_URI", None)
        os.environ.update({"LRS_HRIS_HOME_PAGE": HRIS})
        identities = tmp / "identities.csv"
        identities.write_text(backlog.identity_csv(), encoding="utf-8")
        run_lrs(env, "identities", "load", str(identities))

        probe_ingest = cpu_probe_ms()
        loaded = await ingest(env, tmp, statements)
        if loaded.bad or loaded.stored != len(statements):
            print(f"ingest FAILED: {loaded.stored} stored, {dict(loaded.bad)} {loaded.bad_sample}")
            return 1
        print(
            f"ingest: `lrs serve`, batch 100 / concurrency 8: {loaded.stored} statements in "
            f"{loaded.wall_s:.2f} s = {loaded.rate:.0f} statements/s "
            f"(server CPU {loaded.server_cpu_s or 0:.1f} s; CPU probe {probe_ingest:.0f} ms)"
        )
        if args.keep_backlog:
            shutil.copytree(data, args.keep_backlog, dirs_exist_ok=True)
            print(f"backlog (not yet drained) kept in {args.keep_backlog}")
        rate, status = await measured_drain(data, args)
        ratio = rate / loaded.rate if loaded.rate else 0.0
        print()
        print(
            f"SUMMARY: projection ({args.workers} worker(s)) {rate:.0f} statements/s, "
            f"ingest {loaded.rate:.0f} statements/s: ratio {ratio:.2f} "
            f"({'meets' if ratio >= 1.0 else 'MISSES'} >= 1.0)"
        )
        if args.keep:
            shutil.copytree(data, args.keep, dirs_exist_ok=True)
            print(f"data directory kept in {args.keep}")
        return 0 if status["statements_awaiting_projection"] == 0 else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def measured_drain(data: Path, args: argparse.Namespace) -> tuple[float, dict[str, Any]]:
    """Drain `data` (timed, with the CPU probe before), print the figures; (rate, status)."""
    probe_drain = cpu_probe_ms()
    applied, wall, cpu, status = await drain(data, args.batch, args.workers, args.profile)
    rate = applied / wall if wall else 0.0
    per_statement = cpu / applied * 1000 if applied else 0.0
    print(
        f"projection: {args.workers} worker(s) (batch {args.batch or 'default'}), "
        f"in process: {applied} statements in {wall:.2f} s = {rate:.0f} statements/s "
        f"(CPU {cpu:.1f} s, {per_statement:.3f} ms per statement; "
        f"CPU probe {probe_drain:.0f} ms)",
        flush=True,
    )
    print(
        f"after: awaiting {status['statements_awaiting_projection']}, unmatched "
        f"{status['statements_unmatched']}, webhook events "
        f"{status['webhook_events_unfanned']}"
    )
    return rate, status


async def drain_only(args: argparse.Namespace) -> int:
    """Drain copies of a backlog kept by `--keep-backlog`, `--repeat` times."""
    source = Path(args.drain_only)
    if not (source / "lrs.sqlite3").exists():
        print(f"{source} holds no SQLite store (keep one with --keep-backlog)")
        return 2
    os.environ.update({"LRS_HRIS_HOME_PAGE": HRIS})
    os.environ.pop("LRS_MONGODB_URI", None)
    print("LRS projection benchmark (tests/perf/projection.py), drain only")
    print(
        f"machine: os.cpu_count()={os.cpu_count()}  python={platform.python_version()}  "
        f"sqlite={sqlite3.sqlite_version}  "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; backlog {source}"
    )
    failed = False
    for n in range(args.repeat):
        tmp = Path(tempfile.mkdtemp(prefix="lrs-projection-drain-", dir=args.tmp))
        try:
            data = tmp / "data"
            shutil.copytree(source, data)
            _rate, status = await measured_drain(data, args)
            failed = failed or status["statements_awaiting_projection"] != 0
            if args.keep and n == args.repeat - 1:  # the last drain's, copied once
                shutil.copytree(data, args.keep, dirs_exist_ok=True)
                print(f"data directory kept in {args.keep}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=100_000, help="backlog size")
    parser.add_argument(
        "--matched-share",
        type=float,
        default=0.8,
        help="share of statements whose actor is an HRIS member (0..1)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generator")
    parser.add_argument("--batch", type=int, default=None, help="worker batch (default: settings)")
    parser.add_argument(
        "--workers", type=int, default=1, help="workers draining together (in this process)"
    )
    parser.add_argument("--keep", default=None, help="copy the data directory here at the end")
    parser.add_argument("--tmp", default=None, help="parent of the temporary directory")
    parser.add_argument(
        "--keep-backlog", default=None, help="copy the data directory here before the drain"
    )
    parser.add_argument(
        "--drain-only",
        default=None,
        metavar="DIR",
        help="no backlog made, no ingest: drain a copy of DIR (kept by --keep-backlog)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="drains with --drain-only")
    parser.add_argument("--profile", default=None, help="write a cProfile of the drain here")
    args = parser.parse_args(argv)
    if args.statements < 1 or not 0.0 <= args.matched_share <= 1.0 or args.workers < 1:
        parser.error("--statements, --workers must be >= 1 and --matched-share within 0..1")
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    try:
        return asyncio.run(drain_only(args) if args.drain_only else run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: the server was stopped and the temporary directory removed")
        return 130


if __name__ == "__main__":
    sys.exit(main())
