"""Ingest benchmark: POST /xapi/statements against a real `lrs serve`, and two floors.

Run by hand, never in CI:

    python tests/perf/ingest.py [--statements N] [--seed S] [--quick]

What it does, in order:

1. Makes a temporary data directory, creates a credential with `lrs credentials create`, starts
   `lrs serve` on a free port of 127.0.0.1 as a subprocess (default settings, INFO logging with
   the access log, exactly as an operator would run it) and waits for `GET /xapi/about`.
2. Generates realistic xAPI statements from `random.Random(seed)`: varied actors (mbox and
   account agents, some Groups), ADL verbs, activities with definitions (some interactions),
   results, contexts with extensions, timestamps, and an `id` on every statement.
3. Warms the server up (excluded from the figures, and said so), then POSTs fresh statements in
   batches of 1, 10 and 100, each at concurrency 1 and 8: six scenarios. Request bodies are
   serialised before the clock starts; the client checks every response is a 200 whose body
   lists exactly the ids it sent.
4. Measures two floors in this process, on fresh statements of the same kind, one batch of 100
   per commit, sequentially, no HTTP, each on a database pre-filled (untimed, before the server
   starts) with as many statements as the server holds when its batch 100 / concurrency 8
   scenario starts (inserts slow down as the indexes grow):
   - raw floor: the stdlib `sqlite3` module on the same schema and pragmas, running the store's
     own insert SQL (`write_statement_rows`: key ids, statement rows, filter rows) with one
     BEGIN ... COMMIT per batch. The records (JSON, index) are built before the clock starts.
     It runs twice, on two copies of the pre-filled database: right before and right after
     the batch 100 / concurrency 8 scenario, each once the server has gone idle (its
     checkpointer copies the WAL back after a scenario), and the floor is both runs together.
     Why: this machine's speed drifts by 10-40% within minutes (the same code measured
     8,978-11,154 statements/s in consecutive runs; see the CPU probe it prints), so a floor
     measured a minute apart from the scenario it is compared with says more about the drift
     than about the code;
   - service floor, once the server is stopped (SIGINT, then wait):
     `StatementService.store_statements` over `SQLiteBackend`, the service as `lrs.app` wires
     it: everything the POST handler does once it has parsed the body.
5. Prints per scenario statements/s and p50/p95/p99/max request latency, CPU seconds spent by
   the server and by this client, then a summary line against the targets (>= 10,000
   statements/s at batch 100 / concurrency 8, and >= 1.0x the raw floor).

The client shares the machine with the server: on a small machine its CPU is taken from the
server, which is why both processes' CPU times are printed. The objects this process has made
before a clock starts are frozen out of its garbage collector (`settle`), so that its
collections pause neither the client nor a floor. Every loop is bounded, every request
has a timeout, each scenario has a wall-clock deadline, and the server is stopped on any error.
Exit status: 0 when every response was a correct 200, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import math
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from lrs.app import create_app
from lrs.config import Config
from lrs.keys import statement_service_key
from lrs.model.statements import StatementRecord
from lrs.services.statements import StatementService, with_context_activity_arrays
from lrs.store.engine.sqlite import CACHE_KIB
from lrs.store.sqlite import STATEMENTS_SCHEMA, SQLiteBackend, write_statement_rows
from lrs.store.sqlite_keys import KEYS_SCHEMA, remember
from lrs.store.sqlite_keys import build_rows as build_store_rows
from lrs.store.sqlite_query import UNORDERED_SCHEMA
from lrs.xapi.agents import ifi_key
from lrs.xapi.indexing import index_statement
from lrs.xapi.timestamps import format_us

XAPI_VERSION = "1.0.3"
BATCHES = (1, 10, 100)
CONCURRENCIES = (1, 8)
# The scenario the targets are about; the raw floor runs right before and right after it.
HEADLINE = (100, 8)
FLOOR_BATCH = 100
REQUEST_TIMEOUT_S = 60.0
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
TARGET_RATE = 10_000.0
TARGET_RATIO = 1.0

# --------------------------------------------------------------------------------------------
# Statement generation
# --------------------------------------------------------------------------------------------

ADL = "http://adlnet.gov/expapi/verbs/"
VERBS: dict[str, tuple[int, dict[str, str]]] = {  # name -> (weight, display)
    "experienced": (24, {"en-US": "experienced", "de-DE": "erlebte"}),
    "answered": (24, {"en-US": "answered", "fr-FR": "a répondu"}),
    "attempted": (9, {"en-US": "attempted"}),
    "completed": (10, {"en-US": "completed", "es-ES": "completó"}),
    "passed": (6, {"en-US": "passed"}),
    "failed": (4, {"en-US": "failed"}),
    "scored": (5, {"en-US": "scored"}),
    "progressed": (6, {"en-US": "progressed"}),
    "initialized": (4, {"en-US": "initialized"}),
    "terminated": (4, {"en-US": "terminated"}),
    "launched": (2, {"en-US": "launched"}),
    "interacted": (2, {"en-US": "interacted"}),
}
VERB_NAMES = list(VERBS)
VERB_WEIGHTS = [weight for weight, _display in VERBS.values()]

FIRST = ("Ada", "Ben", "Chloé", "Dmitri", "Emeka", "Fatima", "Grace", "Hiro", "Ines", "Jamal")
LAST = ("Okafor", "Müller", "Silva", "Nakamura", "Haddad", "Kowalski", "Nguyen", "García")
MAIL_DOMAINS = ("example.com", "learners.example.org", "Corp.Example.NET", "uni.example.edu")
ACCOUNT_HOMES = ("https://sso.example-university.edu", "https://lms.example.com/users")
LANGS = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "pt-BR", "ja-JP")
PLATFORMS = ("Moodle 4.1.3", "Articulate Storyline 3.19", "Canvas LMS", "Custom SCORM player")
TOPICS = (
    "Photosynthesis",
    "Fractions",
    "Workplace Safety",
    "Data Privacy (GDPR)",
    "Conflict Resolution",
    "SQL Joins",
    "First Aid",
    "Negotiation",
    "Thermodynamics",
    "Accessible Design",
)
ACTIVITY_BASE = "https://lms.example.com/xapi/activities"
TYPE = "http://adlnet.gov/expapi/activities/"
CMI5_CATEGORY = {
    "id": "https://w3id.org/xapi/cmi5/context/categories/moveon",
    "objectType": "Activity",
    "definition": {"type": TYPE + "profile"},
}
SCORM_CATEGORY = {
    "id": "https://w3id.org/xapi/scorm",
    "definition": {"type": TYPE + "profile", "name": {"en-US": "SCORM profile"}},
}
CONTEXT_EXT = (
    "https://w3id.org/xapi/cmi5/context/extensions/sessionid",
    "https://lms.example.com/xapi/extensions/v2.3.1/client.device.os.version",
    "http://id.tincanapi.com/extension/browser-info",
)
RESULT_EXT = (
    "https://w3id.org/xapi/cmi5/result/extensions/progress",
    "https://lms.example.com/xapi/extensions/v1.0/attempt.number",
    "https://lms.example.com/xapi/extensions/v1.0/response.time.ms",
)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def _lang_map(rng: random.Random, text: str) -> dict[str, str]:
    names = {"en-US": text}
    for lang in rng.sample(LANGS[2:], rng.randrange(0, 3)):
        names[lang] = f"{text} ({lang})"
    return names


class StatementFactory:
    """Seeded statements: one catalogue of learners and activities, then fresh statements."""

    def __init__(self, rng: random.Random, *, learners: int = 3000, courses: int = 40) -> None:
        self.rng = rng
        self.learners = [self._learner(i) for i in range(learners)]
        self.instructors = [self._learner(100_000 + i) for i in range(40)]
        self.groups = [self._group(i) for i in range(60)]
        self.courses = [self._course(i) for i in range(courses)]
        self.registrations: dict[tuple[int, int], str] = {}

    # catalogue ---------------------------------------------------------------------------

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _learner(self, n: int) -> dict[str, Any]:
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        agent: dict[str, Any] = {"name": f"{first} {last}"}
        if rng.random() < 0.75:
            agent["objectType"] = "Agent"
        if rng.random() < 0.6:
            local = f"{first}.{last}{n}".lower().encode("ascii", "ignore").decode()
            agent["mbox"] = f"mailto:{local}@{rng.choice(MAIL_DOMAINS)}"
        else:
            agent["account"] = {"homePage": rng.choice(ACCOUNT_HOMES), "name": f"u{n:07d}"}
        return agent

    def _group(self, n: int) -> dict[str, Any]:
        members = [
            {k: v for k, v in m.items() if k != "objectType"}
            for m in self.rng.sample(self.learners, self.rng.randrange(2, 6))
        ]
        group: dict[str, Any] = {"objectType": "Group", "name": f"Team {n}", "member": members}
        if n % 3:  # two thirds identified, one third anonymous
            group["account"] = {"homePage": "https://teams.example.com", "name": f"team-{n:03d}"}
        return group

    def _activity(self, path: str, kind: str, name: str, **extra: Any) -> dict[str, Any]:
        rng = self.rng
        definition: dict[str, Any] = {
            "name": _lang_map(rng, name),
            "description": _lang_map(rng, f"{name}: a {kind} of the catalogue"),
            "type": TYPE + ("cmi.interaction" if kind == "question" else kind),
            **extra,
        }
        if rng.random() < 0.3:
            definition["moreInfo"] = f"https://lms.example.com/catalogue/{path}"
        if rng.random() < 0.2:
            definition["extensions"] = {
                "https://lms.example.com/xapi/extensions/v1.0/activity.difficulty.level": (
                    rng.randrange(1, 6)
                )
            }
        activity = {"id": f"{ACTIVITY_BASE}/{path}", "definition": definition}
        if rng.random() < 0.7:
            activity = {"objectType": "Activity", **activity}
        return activity

    def _question(self, path: str, n: int) -> tuple[dict[str, Any], Any]:
        """An interaction activity and a function answering it (response, success)."""
        rng = self.rng
        kind = rng.choice(("choice", "true-false", "fill-in", "likert", "sequencing", "matching"))
        ids = ["a", "b", "c", "d", "e"][: rng.randrange(3, 6)]
        text = f"Question {n}"
        extra: dict[str, Any] = {"interactionType": kind}
        if kind == "choice":
            correct = rng.choice(ids)
            extra["choices"] = [
                {"id": i, "description": _lang_map(rng, f"Option {i}")} for i in ids
            ]
            extra["correctResponsesPattern"] = [correct]
            options = ids
        elif kind == "true-false":
            correct = rng.choice(("true", "false"))
            extra["correctResponsesPattern"] = [correct]
            options = ["true", "false"]
        elif kind == "fill-in":
            correct = rng.choice(TOPICS).split()[0].lower()
            extra["correctResponsesPattern"] = [f"{{case_matters=false}}{correct}"]
            options = [correct, "chlorophyll", "denominator", "helmet"]
        elif kind == "likert":
            scale = [f"likert_{i}" for i in range(5)]
            extra["scale"] = [{"id": s, "description": {"en-US": s}} for s in scale]
            correct = None  # an opinion: no right answer
            options = scale
        elif kind == "sequencing":
            extra["choices"] = [{"id": i, "description": {"en-US": f"Step {i}"}} for i in ids]
            correct = "[,]".join(ids)
            extra["correctResponsesPattern"] = [correct]
            options = [correct, "[,]".join(reversed(ids))]
        else:  # matching
            extra["source"] = [{"id": str(k), "description": {"en-US": f"T{k}"}} for k in (1, 2, 3)]
            extra["target"] = [{"id": t, "description": {"en-US": f"D{t}"}} for t in "xyz"]
            correct = "1[.]x[,]2[.]y[,]3[.]z"
            extra["correctResponsesPattern"] = [correct]
            options = [correct, "1[.]y[,]2[.]x[,]3[.]z"]
        activity = self._activity(path, "question", text, **extra)

        def answer() -> tuple[str, bool | None]:
            response = rng.choice(options)
            return response, (None if correct is None else response == correct)

        return activity, answer

    def _course(self, c: int) -> dict[str, Any]:
        topic = TOPICS[c % len(TOPICS)]
        course_path = f"course/{c:03d}-{topic.split()[0].lower()}"
        modules = []
        for m in range(8):
            module_path = f"{course_path}/module/{m}"
            questions = [self._question(f"{module_path}/quiz/q{q}", q) for q in range(10)]
            modules.append(
                {
                    "activity": self._activity(module_path, "module", f"{topic}, module {m + 1}"),
                    "lessons": [
                        self._activity(
                            f"{module_path}/lesson/{n}", "lesson", f"{topic} {m + 1}.{n + 1}"
                        )
                        for n in range(6)
                    ],
                    "assessment": self._activity(
                        f"{module_path}/quiz", "assessment", f"{topic} quiz {m + 1}"
                    ),
                    "questions": questions,
                }
            )
        return {
            "activity": self._activity(course_path, "course", f"{topic} ({c})"),
            "modules": modules,
        }

    # statements ----------------------------------------------------------------------------

    def _timestamp(self) -> str:
        rng = self.rng
        moment = EPOCH + timedelta(milliseconds=rng.randrange(180 * 86_400_000))
        if rng.random() < 0.8:
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        offset = timedelta(hours=rng.choice((-5, 1, 2, 9)))
        local = (moment + offset).replace(tzinfo=None)
        sign = "+" if offset >= timedelta(0) else "-"
        hours = abs(int(offset.total_seconds())) // 3600
        return local.isoformat(timespec="milliseconds") + f"{sign}{hours:02d}:00"

    def _duration(self, max_seconds: int) -> str:
        total = self.rng.uniform(1, max_seconds)
        hours, rest = divmod(total, 3600)
        minutes, seconds = divmod(rest, 60)
        text = "PT"
        if hours >= 1:
            text += f"{int(hours)}H"
        if minutes >= 1:
            text += f"{int(minutes)}M"
        return text + f"{seconds:.2f}S"

    def _score(self, *, success: bool | None) -> dict[str, Any]:
        rng = self.rng
        top = rng.choice((10, 20, 100))
        cut = int(top * 0.7)
        if success is None:
            raw = rng.randrange(0, top + 1)
        elif success:
            raw = rng.randrange(cut, top + 1)
        else:
            raw = rng.randrange(0, cut)
        score: dict[str, Any] = {"scaled": round(raw / top, 4), "raw": raw, "min": 0, "max": top}
        if rng.random() < 0.2:
            del score["scaled"]
        return score

    def _ref(self, activity: dict[str, Any]) -> dict[str, Any]:
        """How a context activity is usually sent: the id, sometimes with its definition."""
        if self.rng.random() < 0.2:
            return activity
        return {"id": activity["id"], "objectType": "Activity"}

    def statement(self) -> dict[str, Any]:
        """One fresh statement with its own id."""
        rng = self.rng
        verb = rng.choices(VERB_NAMES, VERB_WEIGHTS)[0]
        learner_no = rng.randrange(len(self.learners))
        actor = rng.choice(self.groups) if rng.random() < 0.05 else self.learners[learner_no]
        course_no = rng.randrange(len(self.courses))
        course = self.courses[course_no]
        module = rng.choice(course["modules"])
        result: dict[str, Any] | None = None
        parent = module["activity"]
        if verb == "answered":
            obj, answer = rng.choice(module["questions"])
            response, success = answer()
            parent = module["assessment"]
            result = {"response": response, "duration": self._duration(300)}
            if success is not None:
                result["success"] = success
                if rng.random() < 0.5:
                    result["score"] = {"raw": int(success), "min": 0, "max": 1}
        elif verb in ("passed", "failed", "scored"):
            obj = module["assessment"]
            success = {"passed": True, "failed": False}.get(verb)
            result = {"score": self._score(success=success), "duration": self._duration(3600)}
            if success is not None:
                result |= {"success": success, "completion": True}
        elif verb == "completed":
            obj = rng.choices(
                [rng.choice(module["lessons"]), module["activity"], course["activity"]],
                [8, 2, 1],
            )[0]
            parent = module["activity"] if obj is not module["activity"] else course["activity"]
            result = {"completion": True, "duration": self._duration(7200)}
        elif verb in ("experienced", "progressed", "interacted"):
            obj = rng.choice(module["lessons"])
            result = {"duration": self._duration(1800)}
            if verb == "progressed":
                result["extensions"] = {RESULT_EXT[0]: rng.randrange(1, 100)}
        else:  # attempted, launched, initialized, terminated
            obj = rng.choice(module["lessons"]) if rng.random() < 0.7 else module["assessment"]
            if verb == "terminated":
                result = {"duration": self._duration(3600)}
        if result is not None and rng.random() < 0.25:
            result.setdefault("extensions", {})[RESULT_EXT[1]] = rng.randrange(1, 4)
            result["extensions"][RESULT_EXT[2]] = rng.randrange(200, 90_000)

        key = (learner_no, course_no)
        if key not in self.registrations:
            self.registrations[key] = self.uuid4()
        context: dict[str, Any] = {
            "registration": self.registrations[key],
            "contextActivities": {
                # old clients send a single object; the LRS returns arrays
                "parent": [self._ref(parent)] if rng.random() < 0.9 else self._ref(parent),
                "grouping": [self._ref(course["activity"])],
            },
            "platform": rng.choice(PLATFORMS),
            "language": rng.choice(LANGS),
            "extensions": {
                CONTEXT_EXT[0]: self.uuid4(),
                CONTEXT_EXT[1]: rng.choice(("Windows 11.0.22621", "macOS 14.2.1", "Android 14")),
            },
        }
        if rng.random() < 0.5:
            context["contextActivities"]["category"] = [rng.choice((CMI5_CATEGORY, SCORM_CATEGORY))]
        if rng.random() < 0.3:
            context["extensions"][CONTEXT_EXT[2]] = {
                "name": rng.choice(("Firefox", "Chrome", "Safari")),
                "version": f"{rng.randrange(100, 125)}.0.{rng.randrange(0, 9)}",
                "user-agent.details": {"mobile": rng.random() < 0.3},
            }
        if rng.random() < 0.1:
            context["instructor"] = rng.choice(self.instructors)
        statement: dict[str, Any] = {
            "id": self.uuid4(),
            "actor": actor,
            "verb": {"id": ADL + verb, "display": VERBS[verb][1]},
            "object": obj,
            "context": context,
            "timestamp": self._timestamp(),
        }
        if result is not None:
            statement["result"] = result
        return statement

    def statements(self, count: int) -> list[dict[str, Any]]:
        return [self.statement() for _ in range(count)]


def batches(statements: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [statements[i : i + size] for i in range(0, len(statements), size)]


# --------------------------------------------------------------------------------------------
# The server under test
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lrs_command() -> list[str]:
    found = shutil.which("lrs")
    return [found] if found else [sys.executable, "-m", "lrs.cli"]


def create_credential(env: dict[str, str]) -> tuple[str, str]:
    done = subprocess.run(
        [*_lrs_command(), "credentials", "create", "--name", "bench", "--scopes", "all", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"lrs credentials create failed ({done.returncode}): {done.stderr}")
    created = orjson.loads(done.stdout.strip().splitlines()[-1])
    return created["key"], created["secret"]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process and all its threads (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """`lrs serve` in a subprocess; `stop()` is safe to call more than once."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [*_lrs_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    async def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> float:
        started = time.perf_counter()
        deadline = started + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    code = self.proc.returncode
                    raise RuntimeError(f"lrs serve exited with {code}: {self.tail()}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(f"{self.base}/xapi/about") as resp:
                        if resp.status == 200:
                            await resp.read()
                            return time.perf_counter() - started
                await asyncio.sleep(0.1)
        raise RuntimeError(f"lrs serve did not answer within {timeout:.0f} s: {self.tail()}")

    def cpu(self) -> float | None:
        return cpu_seconds(self.proc.pid)

    async def quiet(self, deadline_s: float = 30.0) -> float:
        """Wait until the server has used no CPU for a while (its checkpointer copies the WAL
        back after a scenario); return the seconds waited. A floor measured meanwhile would
        share the disk and the cores with it."""
        started = time.perf_counter()
        last = self.cpu()
        while time.perf_counter() - started < deadline_s:
            await asyncio.sleep(0.25)
            now = self.cpu()
            if last is None or now is None or now - last < 0.005:
                break
            last = now
        return time.perf_counter() - started

    def tail(self, lines: int = 20) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        self._log.close()
        return self.proc.returncode


# --------------------------------------------------------------------------------------------
# The HTTP client
# --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one scenario measured."""

    name: str
    batch: int
    concurrency: int
    planned_requests: int
    wall_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    stored: int = 0
    bad: Counter[str] = field(default_factory=Counter)
    bad_sample: str = ""
    server_cpu_s: float | None = None
    client_cpu_s: float = 0.0
    truncated: bool = False

    @property
    def rate(self) -> float:
        return self.stored / self.wall_s if self.wall_s else 0.0


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Request:
    body: bytes
    ids: list[str]


def encode(batch: list[dict[str, Any]]) -> Request:
    # one statement is sent as an object, a batch as an array, as clients do
    body = orjson.dumps(batch[0] if len(batch) == 1 else batch)
    return Request(body=body, ids=[s["id"] for s in batch])


async def post_all(
    base: str,
    headers: dict[str, str],
    requests: list[Request],
    concurrency: int,
    deadline_s: float,
    outcome: Outcome,
) -> None:
    """POST every request with `concurrency` workers on kept-alive connections."""
    url = f"{base}/xapi/statements"
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    queue = iter(requests)  # shared by the workers; next() never awaits
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        stop_at = started + deadline_s

        async def worker() -> None:
            for request in queue:
                if time.perf_counter() > stop_at:
                    outcome.truncated = True
                    return
                sent = time.perf_counter()
                try:
                    async with session.post(url, data=request.body, headers=headers) as resp:
                        payload = await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    payload, status = repr(exc).encode(), -1
                    kind = type(exc).__name__
                outcome.latencies_s.append(time.perf_counter() - sent)
                if status == 200:
                    try:
                        returned = orjson.loads(payload)
                    except orjson.JSONDecodeError:
                        returned = None
                    if returned == request.ids:
                        outcome.stored += len(request.ids)
                        continue
                    kind = "200 with other ids"
                elif status != -1:
                    kind = str(status)
                outcome.bad[kind] += 1
                outcome.bad_sample = outcome.bad_sample or payload[:300].decode(errors="replace")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        outcome.wall_s = time.perf_counter() - started


async def run_scenario(
    server: Server,
    headers: dict[str, str],
    requests: list[Request],
    batch: int,
    concurrency: int,
    deadline_s: float,
) -> Outcome:
    outcome = Outcome(
        name=f"batch {batch:>3} / conc {concurrency}",
        batch=batch,
        concurrency=concurrency,
        planned_requests=len(requests),
    )
    settle()
    server_before, client_before = server.cpu(), time.process_time()
    await post_all(server.base, headers, requests, concurrency, deadline_s, outcome)
    server_after = server.cpu()
    outcome.client_cpu_s = time.process_time() - client_before
    if server_before is not None and server_after is not None:
        outcome.server_cpu_s = server_after - server_before
    return outcome


# --------------------------------------------------------------------------------------------
# The floors
# --------------------------------------------------------------------------------------------


def settle() -> None:
    """Before a clock starts: collect, leave every object alive now out of later collections
    (`gc.freeze`), and have the machine write its dirty pages to disk (`os.sync`).

    Why: this process holds every generated statement (hundreds of thousands of objects), and
    a full collection over them took ~250 ms, a pause of the client or of a floor's clock each
    time. And what was written just before (a floor's pre-fill, the previous scenario) would
    otherwise be flushed by the kernel during the measurement, slowing its fsyncs by an amount
    that varies from run to run.
    """
    gc.collect()
    gc.freeze()
    os.sync()


def cpu_probe_ms() -> float:
    """The best of three timings of a fixed pure-Python loop: the machine's speed at that time.

    Printed beside the headline figures so that a run taken while the machine was slow (this
    one shares its host: the same loop took 102-115 ms in some runs, 157-163 ms in others)
    can be told from a regression of the code.
    """
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for number in range(3_000_000):
            total += number
        best = min(best, time.perf_counter() - started)
    return best * 1000


async def service_floor(
    directory: Path, warmup: list[list[dict[str, Any]]], measured: list[list[dict[str, Any]]]
) -> tuple[float, int]:
    """StatementService.store_statements over SQLiteBackend, one batch at a time.

    The service is the one `lrs.app.create_app` wires (default settings) around our opened
    backend, started with an AppRunner that binds no socket: the same object the server's
    POST handler calls, without HTTP."""
    backend = SQLiteBackend(directory)
    runner = web.AppRunner(create_app(Config(), backend=backend), handle_signals=False)
    try:
        await runner.setup()
        service: StatementService = runner.app[statement_service_key]
        for batch in warmup:
            await service.store_statements(batch, authority=AUTHORITY, version=XAPI_VERSION)
        settle()
        started = time.perf_counter()
        stored = 0
        for batch in measured:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                written = await service.store_statements(
                    batch, authority=AUTHORITY, version=XAPI_VERSION
                )
            stored += len(written.ids)
        return time.perf_counter() - started, stored
    finally:
        await runner.cleanup()
        await backend.close()


Rows = list[StatementRecord]
AUTHORITY: dict[str, Any] = {
    "objectType": "Agent",
    "name": "bench",
    "account": {"homePage": "http://127.0.0.1:8080", "name": "0123456789abcdef0123"},
}


def raw_rows(batch: list[dict[str, Any]], stored_us: int) -> Rows:
    """The records the service would hand the store for this batch."""
    stored = format_us(stored_us)
    authority_key = ifi_key(AUTHORITY)
    records = []
    for original in batch:
        statement = with_context_activity_arrays(original)
        statement["authority"] = AUTHORITY
        statement.setdefault("version", "1.0.0")
        statement["stored"] = stored
        statement.setdefault("timestamp", stored)
        records.append(
            StatementRecord(
                id=statement["id"].lower(),
                raw=orjson.dumps(statement),
                stored_us=stored_us,
                index=index_statement(statement, authority_key),
            )
        )
    return records


def build_rows(batches_: list[list[dict[str, Any]]]) -> list[Rows]:
    return [raw_rows(batch, time.time_ns() // 1_000_000 * 1000) for batch in batches_]


def raw_connect(path: Path) -> sqlite3.Connection:
    """A connection set up as `lrs.store.engine.sqlite` sets up its writer, durable at each COMMIT
    (`synchronous=FULL`: the writer's NORMAL plus the fsync its syncer thread adds)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    conn.executescript(STATEMENTS_SCHEMA + UNORDERED_SCHEMA + KEYS_SCHEMA)
    return conn


def raw_insert(conn: sqlite3.Connection, rows: Rows, key_cache: dict[str, int]) -> None:
    # the store's own SQL (key dictionary, statement rows, filter rows) and its cache of key
    # ids, so the floor follows any change of schema; the rows are built in the clock, as the
    # server builds them for each request
    built = build_store_rows(rows, key_cache, 0)
    conn.execute("BEGIN")
    _top, learned = write_statement_rows(conn, built)
    conn.execute("COMMIT")
    remember(key_cache, learned)


def prefill(path: Path, prepared: list[Rows], per_commit: int = 5000) -> None:
    """Untimed: give a floor database the statements the server already held."""
    conn = raw_connect(path)
    try:
        for start in range(0, len(prepared), per_commit // FLOOR_BATCH):
            chunk = prepared[start : start + per_commit // FLOOR_BATCH]
            raw_insert(conn, [record for records in chunk for record in records], {})
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def raw_floor(path: Path, warmup: list[Rows], measured: list[Rows]) -> tuple[float, int]:
    """stdlib sqlite3, same schema and pragmas, one BEGIN ... COMMIT per batch; rows prebuilt.

    Returns (seconds inserting and committing the measured batches, statements)."""
    conn = raw_connect(path)
    key_cache: dict[str, int] = {}
    try:
        for rows in warmup:
            raw_insert(conn, rows, key_cache)
        settle()
        started = time.perf_counter()
        stored = 0
        for rows in measured:
            raw_insert(conn, rows, key_cache)
            stored += len(rows)
        return time.perf_counter() - started, stored
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    per_batch: dict[int, int]  # statements per scenario, by batch size
    floor: int
    warmup_requests: dict[int, int]  # warm-up requests, by batch size
    floor_warmup_batches: int
    deadline_s: float


def make_plan(statements: int, quick: bool, deadline_s: float) -> Plan:
    if quick:
        statements = min(statements, 1000)
    per_batch = {100: statements, 10: statements // 2, 1: statements // 4}
    per_batch = {b: max(b, n // b * b) for b, n in per_batch.items()}
    warmup = {1: 20, 10: 10, 100: 3} if quick else {1: 200, 10: 50, 100: 10}
    return Plan(
        per_batch=per_batch,
        floor=max(FLOOR_BATCH, statements // FLOOR_BATCH * FLOOR_BATCH),
        warmup_requests=warmup,
        floor_warmup_batches=2 if quick else 5,
        deadline_s=deadline_s,
    )


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f}"


def print_outcome(o: Outcome) -> None:
    lat = sorted(o.latencies_s)
    bad = sum(o.bad.values())
    srv = f"{o.server_cpu_s:7.1f}" if o.server_cpu_s is not None else "      ?"
    print(
        f"{o.name:<18} {len(lat):>6} {o.stored:>8} {o.wall_s:>7.2f} {o.rate:>9.0f} "
        f"{ms(percentile(lat, 50))} {ms(percentile(lat, 95))} {ms(percentile(lat, 99))} "
        f"{ms(lat[-1] if lat else math.nan)} {bad:>7} {srv} {o.client_cpu_s:7.1f}"
        + ("  TRUNCATED at the deadline" if o.truncated else ""),
        flush=True,
    )
    if bad:
        print(f"    non-200 or wrong answers: {dict(o.bad)}; first: {o.bad_sample!r}", flush=True)


async def run(args: argparse.Namespace) -> int:
    plan = make_plan(args.statements, args.quick, args.deadline)
    main_task = asyncio.current_task()
    if main_task is not None:  # SIGTERM unwinds like Ctrl-C: the server is stopped, tmp removed
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    rng = random.Random(args.seed)
    print("LRS ingest benchmark (tests/perf/ingest.py)")
    print(
        f"machine: os.cpu_count()={os.cpu_count()}  python={platform.python_version()} "
        f"({platform.python_implementation()})  {platform.platform()}  "
        f"sqlite={sqlite3.sqlite_version}  aiohttp={aiohttp.__version__}  "
        f"load average {_load()}"
    )
    t0 = time.perf_counter()
    factory = StatementFactory(rng)
    warmup = {b: factory.statements(b * n) for b, n in plan.warmup_requests.items()}
    scenario_statements = {
        (b, c): factory.statements(plan.per_batch[b]) for b in BATCHES for c in CONCURRENCIES
    }
    floor_warmup = factory.statements(FLOOR_BATCH * plan.floor_warmup_batches)
    service_statements = factory.statements(plan.floor)
    floor_warmup_raw = factory.statements(FLOOR_BATCH * plan.floor_warmup_batches)
    raw_statements = factory.statements(plan.floor)
    # enough to pre-fill the floors' databases (see below); the headline scenario is the last
    prefill_statements = factory.statements(
        sum(len(sts) for sts in warmup.values())
        + sum(len(sts) for key, sts in scenario_statements.items() if key != HEADLINE)
    )
    scenario_requests = {
        key: [encode(b) for b in batches(sts, key[0])] for key, sts in scenario_statements.items()
    }
    warmup_requests = [encode(b) for size, sts in warmup.items() for b in batches(sts, size)]
    settle()
    sizes = [len(r.body) for r in scenario_requests[(1, 1)]]
    print(
        f"statements: seed={args.seed}, generated in {time.perf_counter() - t0:.1f} s; "
        f"mean single-statement body {sum(sizes) / len(sizes):.0f} bytes; "
        f"xAPI {XAPI_VERSION}; each scenario on fresh statements"
    )
    print(
        "per scenario: "
        + ", ".join(f"batch {b}: {plan.per_batch[b]} statements" for b in BATCHES)
        + f"; floors: {plan.floor} statements each; deadline {plan.deadline_s:.0f} s per scenario"
    )

    with tempfile.TemporaryDirectory(prefix="lrs-ingest-", dir=args.tmp) as tmp:
        root = Path(tmp)
        # The floors run on databases holding as many statements as the server will hold when
        # its headline scenario (batch 100 / conc 8, the last one) starts: inserts slow down as
        # the indexes grow, so an empty database would flatter the floors. Pre-filled now, so
        # that the raw floor can run right before and right after the headline scenario.
        floors = root / "floors"
        (floors / "service").mkdir(parents=True)
        held = sum(len(sts) for sts in warmup.values()) + sum(
            plan.per_batch[b] for b, c in scenario_statements if (b, c) != HEADLINE
        )
        started = time.perf_counter()
        prefill_rows = build_rows(batches(prefill_statements[:held], FLOOR_BATCH))
        prefill(floors / "raw_before.sqlite3", prefill_rows)
        del prefill_rows
        shutil.copyfile(floors / "raw_before.sqlite3", floors / "raw_after.sqlite3")
        shutil.copyfile(floors / "raw_before.sqlite3", floors / "service" / "lrs.sqlite3")
        started = time.perf_counter() - started
        raw_rows = (
            build_rows(batches(floor_warmup_raw, FLOOR_BATCH)),
            build_rows(batches(raw_statements, FLOOR_BATCH)),
        )
        raw_runs: list[tuple[float, int]] = []
        probes: list[float] = []
        waits: list[float] = []  # for the server to go quiet before each raw floor
        print(
            f"floors: each database pre-filled (untimed, {started:.1f} s) with {held} "
            f"statements, as many as the server holds when batch 100 / conc 8 starts; "
            f"{plan.floor_warmup_batches} warm-up batches of {FLOOR_BATCH} excluded"
        )
        env = {**os.environ, "LRS_DATA_DIR": str(root / "data"), "LRS_HOST": "127.0.0.1"}
        env.pop("LRS_MONGODB_URI", None)
        key, secret = create_credential(env)
        port = _free_port()
        server = Server(env, port, root / "server.log")
        outcomes: list[Outcome] = []
        try:
            ready = await server.wait_ready()
            print(
                f"server: `lrs serve` pid {server.proc.pid} on {server.base}, data in "
                f"{root / 'data'}, answered /xapi/about after {ready:.1f} s"
            )
            token = base64.b64encode(f"{key}:{secret}".encode()).decode()
            headers = {
                "Authorization": f"Basic {token}",
                "X-Experience-API-Version": XAPI_VERSION,
                "Content-Type": "application/json",
            }
            warm = Outcome("warm-up", 0, 8, len(warmup_requests))
            await post_all(server.base, headers, warmup_requests, 8, plan.deadline_s, warm)
            print(
                f"warm-up (excluded from every figure): {len(warmup_requests)} requests, "
                + ", ".join(f"{n} x batch {b}" for b, n in plan.warmup_requests.items())
                + f", concurrency 8, {warm.stored} statements in {warm.wall_s:.1f} s"
                + (f"; NOT all 200: {dict(warm.bad)} {warm.bad_sample!r}" if warm.bad else "")
            )
            print()
            print(
                f"{'scenario':<18} {'reqs':>6} {'stored':>8} {'wall s':>7} {'stmts/s':>9} "
                f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'non-200':>7} "
                f"{'srv CPU':>7} {'cli CPU':>7}"
            )
            for batch in BATCHES:
                for concurrency in CONCURRENCIES:
                    is_headline = (batch, concurrency) == HEADLINE
                    if is_headline:
                        waits.append(await server.quiet())
                        probes.append(cpu_probe_ms())
                        raw_runs.append(raw_floor(floors / "raw_before.sqlite3", *raw_rows))
                    outcome = await run_scenario(
                        server,
                        headers,
                        scenario_requests[(batch, concurrency)],
                        batch,
                        concurrency,
                        plan.deadline_s,
                    )
                    outcomes.append(outcome)
                    print_outcome(outcome)
                    if is_headline:
                        waits.append(await server.quiet())
                        raw_runs.append(raw_floor(floors / "raw_after.sqlite3", *raw_rows))
                        probes.append(cpu_probe_ms())
        finally:
            code = server.stop()
            log_lines = server.log_path.read_text(errors="replace").splitlines()
            errors = [line for line in log_lines if " ERROR " in line or "Traceback" in line]
            print(
                f"server stopped (exit {code}); its log: {len(log_lines)} lines, "
                f"{len(errors)} ERROR/Traceback lines" + (f"; first: {errors[0]}" if errors else "")
            )
        stored_total = warm.stored + sum(o.stored for o in outcomes)
        files = ", ".join(
            f"{p.name} {p.stat().st_size / 1e6:.1f} MB"
            for p in sorted((root / "data").glob("lrs.sqlite3*"))
        )
        print(f"server database at the end: {stored_total} statements; {files}")

        actually_held = warm.stored + sum(o.stored for o in outcomes[:-1])
        if actually_held != held:
            print(
                f"NOTE: the server held {actually_held} statements when the headline started, "
                f"the floors {held}"
            )
        print()
        seconds, stored = await service_floor(
            floors / "service",
            batches(floor_warmup, FLOOR_BATCH),
            batches(service_statements, FLOOR_BATCH),
        )
        service_rate = stored / seconds
        print(
            f"floor (service, no HTTP): StatementService.store_statements on SQLiteBackend, "
            f"{FLOOR_BATCH} per call, sequential: {stored} statements in {seconds:.2f} s = "
            f"{service_rate:.0f} statements/s"
        )
        for when, (seconds, stored), wait in zip(("before", "after"), raw_runs, waits, strict=True):
            print(
                f"floor (raw sqlite3), just {when} batch 100 / conc 8 (once the server was idle, "
                f"{wait:.1f} s): same schema, WAL, synchronous=FULL, BEGIN/INSERTs/COMMIT per "
                f"{FLOOR_BATCH}: {stored} statements in {seconds:.2f} s = "
                f"{stored / seconds:.0f} statements/s"
            )
        raw_rate = sum(n for _s, n in raw_runs) / sum(s for s, _n in raw_runs)
        print(
            f"floor (raw sqlite3), both runs: {raw_rate:.0f} statements/s (the records were "
            f"built beforehand, untimed; the rows from them are built in the clock)"
        )

    print(f"load average at the end: {_load()} (other work on the machine skews the figures)")
    print(
        "CPU probe (a fixed pure-Python loop, best of 3) before and after the headline and its "
        "floors: " + ", ".join(f"{ms:.0f} ms" for ms in probes) + " (a slower machine: more)"
    )
    headline = next(o for o in outcomes if (o.batch, o.concurrency) == HEADLINE)
    ratio = headline.rate / raw_rate if raw_rate else math.nan
    bad = sum(sum(o.bad.values()) for o in outcomes) + sum(warm.bad.values())
    print()
    print(
        f"SUMMARY: batch 100 / concurrency 8: {headline.rate:.0f} statements/s "
        f"({'meets' if headline.rate >= TARGET_RATE else 'MISSES'} >= {TARGET_RATE:.0f}); "
        f"raw floor {raw_rate:.0f} statements/s; ratio {ratio:.2f}x "
        f"({'meets' if ratio >= TARGET_RATIO else 'MISSES'} >= {TARGET_RATIO:.1f}x); "
        f"service floor {service_rate:.0f} statements/s; non-200/wrong: {bad}; "
        f"os.cpu_count()={os.cpu_count()}, Python {platform.python_version()}"
    )
    return 0 if bad == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--statements",
        type=int,
        default=20_000,
        help="statements per batch-100 scenario and per floor (batch 10: 1/2, batch 1: 1/4)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the statement generator")
    parser.add_argument("--quick", action="store_true", help="a small run (1000 at most)")
    parser.add_argument(
        "--deadline", type=float, default=300.0, help="wall-clock cap per scenario, seconds"
    )
    parser.add_argument("--tmp", default=None, help="parent of the temporary directory")
    args = parser.parse_args(argv)
    if args.statements < 1:
        parser.error("--statements must be at least 1")
    try:
        return asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: the server was stopped and the temporary directory removed")
        return 130


if __name__ == "__main__":
    sys.exit(main())
