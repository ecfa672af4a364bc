"""Micro-benchmark of statement validation (lrs/xapi/validation.py), the ingest path's hottest code.

Run by hand, never in CI:

    python tests/perf/validation.py [--statements N] [--repeat R]

Validates the realistic statements of tests/perf/ingest.py (`StatementFactory`, seed 7) with
`validate_statements` in batches of 100, under the 1.0.3 and the 2.0.0 rules, and prints the best
and median microseconds per statement over R passes, then the parts on their own: the native
schema check (jsonschema_rs), the reference schema check (fastjsonschema, which only rejected
statements reach) and the rules beyond the schema.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import StatementFactory

from lrs.xapi import validation

BATCH = 100


def per_statement(run: Callable[[], Any], count: int, repeat: int) -> tuple[float, float]:
    """Best and median microseconds per statement of `run` (which handles `count` statements)."""
    run()  # warm up: compile the validators, fill caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) / count * 1e6)
    return min(times), statistics.median(times)


def parts(version: str, statements: list[dict[str, Any]]) -> dict[str, Callable[[], Any]]:
    """The whole of validation, in batches, then each of its parts on its own."""
    batches = [statements[i : i + BATCH] for i in range(0, len(statements), BATCH)]
    native = validation._native_validator(version)
    reference = validation._validator(version)
    return {
        "validate_statements": lambda: [
            validation.validate_statements(batch, version) for batch in batches
        ],
        "  native schema": lambda: [native.is_valid(s) for s in statements],
        "  reference schema": lambda: [reference(s) for s in statements],
        "  rules": lambda: [validation.check_statement_rules(s) for s in statements],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    statements = StatementFactory(random.Random(7)).statements(args.statements)
    for version in ("1.0.3", "2.0.0"):
        for name, run in parts(version, statements).items():
            best, median = per_statement(run, len(statements), args.repeat)
            print(f"{version} {name:22s} best {best:6.1f} us/statement, median {median:6.1f}")


if __name__ == "__main__":
    main()
