"""Token verification benchmark: verifications per second of marketplace access tokens.

Run by hand, never in CI:

    python tests/perf/token_verify.py [--verifications N] [--concurrency C] [--keys K] [--seed S]

On a fresh SQLite data directory (the embedded default store), it creates a client, rotates
the signing key `--keys` times (older keys stay live), issues `--concurrency` tokens signed
with keys drawn by `random.Random(seed)`, then runs `TokenService.verify` `--verifications`
times, `--concurrency` at a time: every marketplace API request pays this check. It prints
verifications/s and the CPU probe of `tests/perf/ingest.py` (the machine's speed at the time:
compare runs only with similar probes). Copy it into another tree to measure that tree's code.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(HERE))

from lrs.store.sqlite import SQLiteBackend  # noqa: E402
from projections.audit import AuditLog  # noqa: E402
from projections.keyring import Keyring  # noqa: E402
from projections.store import open_stores  # noqa: E402
from projections.tokens import TokenService  # noqa: E402
from tests.perf.ingest import cpu_probe_ms  # noqa: E402


async def run(data_dir: Path, verifications: int, concurrency: int, keys: int, seed: int) -> float:
    """Verifications per second."""
    rng = random.Random(seed)
    backend = SQLiteBackend(data_dir)
    try:
        stores = await open_stores(backend)
        tokens = TokenService(
            stores.access,
            Keyring(rng.randbytes(32)),
            audit=AuditLog(stores.audit),
            issuer="https://lrs.bench/marketplace",
        )
        new = await tokens.create_client("bench", ["read:activity:aggregate"])
        issued = []
        for _ in range(max(1, keys)):
            await tokens.rotate_key()
            issued.append((await tokens.issue(new.client, None)).access_token)
        batch = [rng.choice(issued) for _ in range(concurrency)]
        await asyncio.gather(*(tokens.verify(t) for t in batch))  # warm up
        started = time.perf_counter()
        done = 0
        while done < verifications:
            await asyncio.gather(*(tokens.verify(t) for t in batch))
            done += len(batch)
        return done / (time.perf_counter() - started)
    finally:
        await backend.close()


def main() -> None:
    """Parse the options, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verifications", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--keys", type=int, default=3, help="live signing keys")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lrs-token-verify-") as data:
        rate = asyncio.run(
            run(Path(data), args.verifications, args.concurrency, args.keys, args.seed)
        )
    print(f"{rate:,.0f} verifications/s ({args.verifications} at concurrency {args.concurrency})")
    print(f"CPU probe: {cpu_probe_ms():.0f} ms")


if __name__ == "__main__":
    main()
