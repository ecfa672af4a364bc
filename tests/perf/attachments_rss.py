"""Server memory while it serves a large `attachments=true` statement response.

Run by hand, never in CI:

    python tests/perf/attachments_rss.py [--statements 100] [--size-mb 1] [--source DIR]

Starts `lrs serve` from `--source` (a checkout of the project; default: this tree) on a free
port of 127.0.0.1 with a fresh data directory, stores `--statements` statements each with one
attachment of `--size-mb` MiB of random bytes (fixed seed; one statement per request), then
reads `GET /xapi/statements?attachments=true&limit=N` to the end while sampling the server's
resident set size (/proc/PID/status VmRSS) every 10 ms. Before the read the kernel's peak
(VmHWM) is reset through /proc/PID/clear_refs where allowed, so the peak printed is the read's
own. It prints the RSS before the read, the peak during it and the increase, with the response's
size and the CPU probe. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from tests.perf.ingest import cpu_probe_ms
from tests.perf.token_stall import free_port, lrs, wait_up

HERE = Path(__file__).resolve().parents[2]
BOUNDARY = "perf-attachment-boundary"


def kib(pid: int, field: str) -> int:
    """A /proc/PID/status memory field (VmRSS, VmHWM) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0, same user); False when not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def statement_body(content: bytes) -> tuple[bytes, str]:
    """A multipart/mixed statement request carrying `content` as its one attachment."""
    sha2 = hashlib.sha256(content).hexdigest()
    statement = {
        "id": str(uuid.uuid4()),
        "actor": {"mbox": "mailto:perf@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
        "object": {"id": "http://example.com/activities/perf"},
        "attachments": [
            {
                "usageType": "http://example.com/attachment-usage/perf",
                "display": {"en-US": "perf"},
                "contentType": "application/octet-stream",
                "length": len(content),
                "sha2": sha2,
            }
        ],
    }
    head = (
        f"--{BOUNDARY}\r\nContent-Type: application/json\r\n\r\n{json.dumps(statement)}\r\n"
        f"--{BOUNDARY}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {sha2}\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{BOUNDARY}--\r\n".encode(), statement["id"]


async def store(base: str, auth: str, count: int, size: int) -> None:
    """`count` statements with a `size`-byte attachment each (seeded random content)."""
    rng = random.Random(20261203)
    headers = {
        "Authorization": auth,
        "X-Experience-API-Version": "1.0.3",
        "Content-Type": f'multipart/mixed; boundary="{BOUNDARY}"',
    }
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            body, _ = statement_body(rng.randbytes(size))
            async with session.post(base + "/xapi/statements", data=body, headers=headers) as r:
                if r.status != 200:
                    raise SystemExit(f"storing failed: {r.status} {await r.text()}")


async def read_while_sampling(base: str, auth: str, count: int, pid: int) -> tuple[int, int, float]:
    """(response bytes, peak RSS KiB sampled, seconds) of the attachments=true read."""
    peak = kib(pid, "VmRSS")
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, kib(pid, "VmRSS"))
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    total = 0
    url = f"{base}/xapi/statements?attachments=true&limit={count}"
    timeout = aiohttp.ClientTimeout(total=600)
    headers = {"Authorization": auth, "X-Experience-API-Version": "1.0.3"}
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, headers=headers) as response,
    ):
        if response.status != 200:
            raise SystemExit(f"read failed: {response.status} {await response.text()}")
        async for chunk in response.content.iter_chunked(1 << 16):
            total += len(chunk)
    elapsed = time.perf_counter() - started
    done.set()
    await sampler
    return total, peak, elapsed


async def measure(source: Path, count: int, size_mb: float) -> None:
    data = Path(tempfile.mkdtemp(prefix="lrs-rss-"))
    env = {**os.environ, "PYTHONPATH": str(source), "LRS_DATA_DIR": str(data)}
    credential = json.loads(
        lrs(source, env, "credentials", "create", "--name", "perf", "--scopes", "all", "--json")
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "lrs.cli", "serve", "--port", str(port)],
        env=env,
        cwd=source,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_up(base)
        token = base64.b64encode(f"{credential['key']}:{credential['secret']}".encode())
        auth = "Basic " + token.decode()
        await store(base, auth, count, int(size_mb * 1024 * 1024))
        before = kib(server.pid, "VmRSS")
        peak_reset = reset_peak(server.pid)
        total, sampled, seconds = await read_while_sampling(base, auth, count, server.pid)
        peak = max(sampled, kib(server.pid, "VmHWM")) if peak_reset else sampled
        print(f"source {source}")
        print(
            f"response: {total / 2**20:.1f} MiB ({count} statements x {size_mb:g} MiB) "
            f"in {seconds:.2f} s"
        )
        print(
            f"server RSS before the read {before / 1024:.1f} MiB, peak during it "
            f"{peak / 1024:.1f} MiB: +{(peak - before) / 1024:.1f} MiB "
            f"({'VmHWM reset and sampled' if peak_reset else 'sampled every 10 ms'})"
        )
        print(f"CPU probe: {cpu_probe_ms():.0f} ms")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=100, help="statements (default 100)")
    parser.add_argument("--size-mb", type=float, default=1.0, help="MiB per attachment (1)")
    parser.add_argument("--source", type=Path, default=HERE, help="project checkout to serve")
    args = parser.parse_args()
    asyncio.run(measure(args.source.resolve(), args.statements, args.size_mb))


if __name__ == "__main__":
    main()
