"""`lrs hris sources`: the senders of HRIS events and their signing secrets.

lrs hris sources create NAME [--json]    a new source; prints its secret once
lrs hris sources list [--json]           sources (never a secret)
lrs hris sources rotate NAME [--json]    a new secret; the old one is refused from now on
lrs hris sources revoke NAME [--json]    refuse the source's events

Secrets are derived from the master key, never stored (`projections.hris_sources`); each
change is audited (`hris.source.created|rotated|revoked`, without the secret).
`projections.cli` registers these with its `run` wrapper (which opens the projection).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from lrs.errors import LRSError
from projections.service import Projection
from projections.store.hris import HrisSource

Job = Callable[[Projection, argparse.Namespace], Awaitable[int]]
Run = Callable[[Job], Callable[..., int]]

SHOWN_ONCE = "The secret is shown only now; it is derived from the master key, never stored."


def source_json(source: HrisSource) -> dict[str, Any]:
    """A source as --json prints it (no secret, no salt)."""
    return {
        "name": source.name,
        "state": "revoked" if source.revoked_at else "active",
        "created_at": source.created_at,
        "rotated_at": source.rotated_at,
        "revoked_at": source.revoked_at,
    }


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def _failing(job: Job) -> Job:
    """Print an LRS error (exists, not found, revoked...) on stderr, exit 1."""

    async def run(projection: Projection, args: argparse.Namespace) -> int:
        try:
            return await job(projection, args)
        except LRSError as exc:
            if args.json:
                print(json.dumps(exc.to_json(), indent=2))
            print(f"error: {exc.message}", file=sys.stderr)
            return 1

    return run


async def _create(projection: Projection, args: argparse.Namespace) -> int:
    source, secret = await projection.hris.sources.create(args.name)
    data = {**source_json(source), "secret": secret}
    _out(args, data, f"source: {source.name}\nsecret: {secret}\n{SHOWN_ONCE}")
    return 0


async def _rotate(projection: Projection, args: argparse.Namespace) -> int:
    source, secret = await projection.hris.sources.rotate(args.name)
    data = {**source_json(source), "secret": secret}
    text = f"source: {source.name}\nsecret: {secret}\nThe old secret is refused from now on. "
    _out(args, data, text + SHOWN_ONCE)
    return 0


async def _revoke(projection: Projection, args: argparse.Namespace) -> int:
    source = await projection.hris.sources.revoke(args.name)
    _out(args, source_json(source), f"revoked {source.name}: its events are refused")
    return 0


async def _list(projection: Projection, args: argparse.Namespace) -> int:
    sources = await projection.hris.sources.list()
    rows = [source_json(s) for s in sources]
    text = "\n".join(f"{r['name']:24} {r['state']:8} created {r['created_at']}" for r in rows)
    _out(args, rows, text or "no HRIS sources")
    return 0


def register(commands: Any, run: Run, json_flag: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `lrs hris sources ...` to the `lrs` parser."""
    hris = commands.add_parser("hris", help="HRIS event sources")
    sub = hris.add_subparsers(dest="hris_action", required=True, metavar="ACTION")
    sources = sub.add_parser("sources", help="senders of HRIS events and their secrets")
    actions = sources.add_subparsers(dest="source_action", required=True, metavar="ACTION")
    for name, job, text in (
        ("create", _create, "a new source; prints its secret once"),
        ("rotate", _rotate, "a new secret; the old one is refused from now on"),
        ("revoke", _revoke, "refuse the source's events"),
    ):
        parser = actions.add_parser(name, help=text)
        parser.add_argument("name", metavar="NAME")
        json_flag(parser)
        parser.set_defaults(func=run(_failing(job)))
    listing = actions.add_parser("list", help="sources (never a secret)")
    json_flag(listing)
    listing.set_defaults(func=run(_list))
