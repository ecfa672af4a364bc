"""Token endpoint stall: how long `/health` waits while wrong-secret token requests run.

Run by hand, never in CI:

    python tests/perf/token_stall.py [--concurrency 40] [--rounds 3] [--source DIR]

Starts `lrs serve` from `--source` (a checkout of the project; default: this tree) on a free
port of 127.0.0.1 with a fresh data directory and one marketplace client, then per round sends
`--concurrency` concurrent `POST /marketplace/v1/oauth/token` requests with that client's id
and a wrong secret, while a probe sends `GET /health` one after another until they have all
answered. It prints, per round, the slowest and the median `/health` latency and the token
requests' statuses. Extra `LRS_*` variables are passed through (for example
`LRS_MARKETPLACE_TOKEN_FAILURES_PER_CLIENT=0 LRS_MARKETPLACE_TOKEN_FAILURES_PER_ADDRESS=0`
measures the secret check alone, without the failed-attempt limit).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lrs(source: Path, env: dict[str, str], *args: str) -> str:
    """Run the `lrs` command from `source`; its standard output."""
    command = [sys.executable, "-m", "lrs.cli", *args]
    return subprocess.run(
        command, env=env, cwd=source, check=True, capture_output=True
    ).stdout.decode()


async def wait_up(base: str) -> None:
    """Until /health answers (30 s at most)."""
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(base + "/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not start")


async def one_round(
    base: str, client_id: str, concurrency: int
) -> tuple[list[float], dict[int, int]]:
    """(/health latencies in seconds, token statuses) of one burst."""
    auth = "Basic " + base64.b64encode(f"{client_id}:wrong".encode()).decode()
    statuses: collections.Counter[int] = collections.Counter()
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def attempt() -> None:
            async with session.post(
                base + "/marketplace/v1/oauth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": auth},
            ) as response:
                await response.read()
                statuses[response.status] += 1

        burst = asyncio.gather(*(attempt() for _ in range(concurrency)))
        async with aiohttp.ClientSession() as probe:
            while not burst.done():
                started = time.perf_counter()
                async with probe.get(base + "/health") as response:
                    await response.read()
                latencies.append(time.perf_counter() - started)
        await burst
    return latencies, dict(statuses)


async def measure(base: str, client_id: str, concurrency: int, rounds: int) -> None:
    """Print the figures of each round (a 61 s pause between rounds lets limits expire)."""
    for n in range(rounds):
        if n:
            await asyncio.sleep(61)
        latencies, statuses = await one_round(base, client_id, concurrency)
        print(
            json.dumps(
                {
                    "round": n + 1,
                    "health_requests": len(latencies),
                    "health_max_s": round(max(latencies), 3),
                    "health_median_s": round(statistics.median(latencies), 4),
                    "token_statuses": statuses,
                }
            )
        )


def main() -> None:
    """Start the server, measure, stop it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--source", type=Path, default=HERE)
    options = parser.parse_args()
    source = options.source.resolve()
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        env = {**os.environ, "LRS_DATA_DIR": data_dir, "PYTHONPATH": str(source)}
        created = json.loads(
            lrs(
                source,
                env,
                "marketplace",
                "clients",
                "create",
                "--name",
                "probe",
                "--scopes",
                "read:profile",
                "--json",
            )
        )
        client_id = created["client_id"]
        server = subprocess.Popen(
            [sys.executable, "-m", "lrs.cli", "serve", "--port", str(port)],
            env=env,
            cwd=source,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(wait_up(base))
            asyncio.run(measure(base, client_id, options.concurrency, options.rounds))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
