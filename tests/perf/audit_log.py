"""Audit log benchmark: appends per second (as token issuance makes them) and verification speed.

Run by hand, never in CI:

    python tests/perf/audit_log.py [--entries N] [--concurrency C] [--processes P] [--seed S]

On a fresh SQLite data directory (the embedded default store), `--processes` processes each
append `--entries` entries through `AuditLog.append` (the call the token service makes for
every token issued), `--concurrency` at a time within a process, with details drawn from
`random.Random(seed)` the size of a `token.issued` entry. It prints appends/s (all processes
together, wall clock from the moment every process is ready), then the time `verify` takes to
walk the whole chain (entries/s), and the CPU probe of `tests/perf/ingest.py` (the machine's
speed at the time: compare runs only with similar probes).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(HERE))

from lrs.store.sqlite import SQLiteBackend  # noqa: E402
from projections.audit import AuditLog  # noqa: E402
from projections.store import open_stores  # noqa: E402
from tests.perf.ingest import cpu_probe_ms  # noqa: E402


async def append_many(data_dir: Path, entries: int, concurrency: int, seed: int) -> None:
    """Append `entries` token-like entries, `concurrency` at a time."""
    rng = random.Random(seed)
    backend = SQLiteBackend(data_dir)
    try:
        audit = AuditLog((await open_stores(backend)).audit)
        print("ready", flush=True)
        sys.stdin.readline()
        queue = list(range(entries))

        async def one_worker() -> None:
            while queue:
                queue.pop()
                client = f"mkt_{rng.getrandbits(64):016x}"
                await audit.append(
                    "token.issued",
                    actor=client,
                    subject=f"{rng.getrandbits(128):032x}",
                    details={"scopes": ["read:profile"], "expires": 1_800_000_000},
                )

        await asyncio.gather(*(one_worker() for _ in range(concurrency)))
    finally:
        await backend.close()


async def verify(data_dir: Path) -> tuple[int, float, bool]:
    """(entries, seconds, intact) of one verification of the whole chain."""
    backend = SQLiteBackend(data_dir)
    try:
        audit = AuditLog((await open_stores(backend)).audit)
        started = time.perf_counter()
        report = await audit.verify()
        return report.entries, time.perf_counter() - started, report.intact
    finally:
        await backend.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=2000, help="per process (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="appends in flight (16)")
    parser.add_argument("--processes", type=int, default=1, help="writer processes (1)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(append_many(Path(args.worker), args.entries, args.concurrency, args.seed))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        asyncio.run(verify(data_dir))  # creates the tables before the writers race
        command = [sys.executable, __file__, "--entries", str(args.entries)]
        command += ["--concurrency", str(args.concurrency), "--worker", str(data_dir)]
        writers = [
            subprocess.Popen(
                [*command, "--seed", str(args.seed + n)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in range(args.processes)
        ]
        for writer in writers:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        started = time.perf_counter()
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.close()
        failed = sum(writer.wait() != 0 for writer in writers)
        elapsed = time.perf_counter() - started
        total = args.entries * args.processes
        print(
            f"appended {total} entries from {args.processes} process(es) at concurrency "
            f"{args.concurrency}: {total / elapsed:,.0f} appends/s ({elapsed:.2f} s)"
        )
        entries, seconds, intact = asyncio.run(verify(data_dir))
        rate = entries / seconds
        state = "intact" if intact else "BROKEN"
        print(f"verify: {entries} entries in {seconds:.2f} s ({rate:,.0f}/s), {state}")
        print(f"cpu probe: {cpu_probe_ms():.0f} ms")
        return 1 if failed or not intact or entries != total else 0


if __name__ == "__main__":
    sys.exit(main())
