"""Mapping benchmark: the CPU the projection spends deriving contributions, per statement.

Run by hand, never in CI:

    python -m tests.perf.mapping [--statements N] [--seed S] [--rounds R] [--edx-share F]

The worker derives every statement's contribution (`Projector.contribution`: the mapping's
scope, its rows, the quality checks) before anything touches the store; a profile puts about
a fifth of the projection's time there. This times that step alone, on the projection
benchmark's seeded mix of statements (`tests.perf.projection.Backlog`: courses, ADL verbs,
scores), plus `--edx-share` of Open edX-shaped ones (forum posts, navigation, problems)
that the shipped scope leaves out. It prints the best of `--rounds` passes in microseconds per
statement, and the CPU probe. The same command runs on older trees (it uses only
`Projector.contribution`), so before/after figures come from running it in both, back to back.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from typing import Any

from projections.facts import Projector
from projections.settings import ProjectionSettings
from tests.perf.ingest import cpu_probe_ms
from tests.perf.projection import HRIS, Backlog

EDX = "https://courses.bench.example.edu"
EDX_KINDS = (
    (
        "https://w3id.org/xapi/acrossx/verbs/posted",
        "http://id.tincanapi.com/activitytype/discussion",
    ),
    (
        "https://w3id.org/xapi/dod-isd/verbs/navigated",
        "http://id.tincanapi.com/activitytype/resource",
    ),
    ("http://id.tincanapi.com/verb/viewed", "http://id.tincanapi.com/activitytype/resource"),
    (
        "https://w3id.org/xapi/acrossx/verbs/evaluated",
        "http://adlnet.gov/expapi/activities/cmi.interaction",
    ),
)


def edx_statement(rng: random.Random, actor: dict[str, Any], n: int) -> dict[str, Any]:
    """An Open edX-shaped statement outside the shipped scope."""
    verb, kind = rng.choice(EDX_KINDS)
    made: dict[str, Any] = {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "actor": actor,
        "verb": {"id": verb},
        "object": {
            "objectType": "Activity",
            "id": f"{EDX}/block/{n}",
            "definition": {"type": kind},
        },
        "timestamp": "2024-01-01T00:00:00Z",
    }
    if kind.endswith("cmi.interaction"):
        made["result"] = {"score": {"raw": 1, "min": 0, "max": 1}, "success": True}
    return made


def statements(count: int, seed: int, edx_share: float) -> list[dict[str, Any]]:
    """The seeded mix, each with the `stored` the LRS would have set."""
    rng = random.Random(seed)
    backlog = Backlog(rng, count, 0.8)
    made = []
    for n, statement in enumerate(backlog.statements(count)):
        if rng.random() < edx_share and statement["verb"]["id"].rsplit("/", 1)[-1] != "voided":
            statement = edx_statement(rng, statement["actor"], n)
        statement["stored"] = "2024-01-02T00:00:00.000Z"
        made.append(statement)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=50_000, help="statements mapped")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generator")
    parser.add_argument("--rounds", type=int, default=5, help="passes; the best is reported")
    parser.add_argument(
        "--edx-share", type=float, default=0.3, help="share of Open edX out-of-scope statements"
    )
    args = parser.parse_args(argv)
    projector = Projector.from_settings(ProjectionSettings(hris_home_page=HRIS))
    batch = statements(args.statements, args.seed, args.edx_share)
    print(f"cpu probe: {cpu_probe_ms():.0f} ms")
    best = float("inf")
    made = 0
    for _ in range(args.rounds):
        started = time.process_time()
        made = sum(1 for s in batch if projector.contribution(s, 1) is not None)
        best = min(best, time.process_time() - started)
    per = best / len(batch) * 1e6
    print(
        f"mapping {len(batch)} statements (edx share {args.edx_share}): {per:.2f} us/statement "
        f"(best of {args.rounds}), {made} contributions, mapping version "
        f"{projector.mapping.version}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
