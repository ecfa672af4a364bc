"""`lrs marketplace`: OAuth clients, token signing keys, the status, the audit log alias.

lrs marketplace clients create --name N --scopes "S ..." [--rate-limit N] [--json]
lrs marketplace clients list [--json]                  with scopes and rate limits
lrs marketplace clients revoke ID
lrs marketplace clients rotate-secret ID [--grace 24h] [--json]
                                                       a new secret, shown once; the old one
                                                       works until the grace ends
lrs marketplace apps create|list|revoke, grants list|revoke
                                                       delegated OAuth (`projections.cli_apps`)
lrs marketplace keys rotate|list|retire KID            token signing key ids
lrs marketplace status                                 projection lag and webhook backlog

`projections.cli` registers these with its `run` wrapper (which opens the projection).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from projections import cli_apps
from projections.cli_audit import register_marketplace_alias
from projections.service import Projection
from projections.tokens import SCOPES
from projections.transforms import format_datetime

Job = Callable[[Projection, argparse.Namespace], Awaitable[int]]
Run = Callable[[Job], Callable[..., int]]

_DURATION = re.compile(r"(\d+)([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def grace_seconds(text: str) -> int:
    """An argparse type: `24h`, `90m`, `7d`, `30s` or `0` as seconds."""
    if text == "0":
        return 0
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a duration such as 24h, 90m, 7d: {text!r}")
    return int(match[1]) * _UNIT_S[match[2]]


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if getattr(args, "json", False) else text)


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")


async def _clients_create(projection: Projection, args: argparse.Namespace) -> int:
    new = await projection.tokens.create_client(
        args.name, args.scopes.split(), rate_limit=args.rate_limit
    )
    data = {
        "client_id": new.client.client_id,
        "client_secret": new.secret,
        "scopes": list(new.client.scopes),
    }
    _print(
        args,
        data,
        f"client_id:     {new.client.client_id}\nclient_secret: {new.secret}\n"
        f"scopes:        {' '.join(new.client.scopes)}\n"
        "The secret is shown only now; only its hash is stored.",
    )
    return 0


async def _clients_list(projection: Projection, args: argparse.Namespace) -> int:
    clients = await projection.stores.access.list_clients()
    default = projection.settings.rate_limit_per_min
    rows = [
        {
            "client_id": c.client_id,
            "name": c.name,
            "scopes": list(c.scopes),
            "revoked": c.revoked,
            "rate_limit_per_min": c.rate_limit_per_min,
        }
        for c in clients
    ]
    text = "\n".join(
        f"{c.client_id}  {'revoked' if c.revoked else 'active':8} {c.name}  [{' '.join(c.scopes)}]"
        f"  {c.rate_limit_per_min or default}/min{'' if c.rate_limit_per_min else ' (default)'}"
        for c in clients
    )
    _print(args, rows, text)
    return 0


async def _clients_revoke(projection: Projection, args: argparse.Namespace) -> int:
    if await projection.tokens.revoke_client(args.client_id):
        print(f"revoked {args.client_id} and every token it holds")
        return 0
    print(f"no client {args.client_id}", file=sys.stderr)
    return 1


async def _clients_rotate_secret(projection: Projection, args: argparse.Namespace) -> int:
    rotated = await projection.tokens.rotate_secret(args.client_id, grace_s=args.grace)
    if rotated is None:
        print(f"no live client {args.client_id}", file=sys.stderr)
        return 1
    until = format_datetime(rotated.previous_until_us) if args.grace else None
    data = {
        "client_id": rotated.client_id,
        "client_secret": rotated.secret,
        "previous_secret_valid_until": until,
    }
    old = (
        f"the previous secret works until {until}"
        if until
        else "the previous secret no longer works"
    )
    _print(
        args,
        data,
        f"client_id:     {rotated.client_id}\nclient_secret: {rotated.secret}\n"
        f"The secret is shown only now; only its hash is stored; {old}.",
    )
    return 0


async def _keys_rotate(projection: Projection, args: argparse.Namespace) -> int:
    key = await projection.tokens.rotate_key()
    print(f"new signing key {key.kid}; tokens signed with older keys stay valid until retired")
    return 0


async def _keys_list(projection: Projection, args: argparse.Namespace) -> int:
    keys = await projection.stores.access.signing_keys()
    rows = [{"kid": k.kid, "created_us": k.created_us, "retired": k.retired} for k in keys]
    _print(
        args, rows, "\n".join(f"{r['kid']}  {'retired' if r['retired'] else 'live'}" for r in rows)
    )
    return 0


async def _keys_retire(projection: Projection, args: argparse.Namespace) -> int:
    if await projection.tokens.retire_key(args.kid):
        print(f"retired {args.kid}: every server refuses the tokens it signed from now on")
        return 0
    print(f"no key {args.kid}", file=sys.stderr)
    return 1


async def _status(projection: Projection, args: argparse.Namespace) -> int:
    status = await projection.status()
    print(json.dumps(status, indent=2))
    return 0


# --- webhooks -----------------------------------------------------------------------------------


def register_marketplace(commands: Any, _run: Run) -> None:
    """Add `lrs marketplace` (clients, keys, audit, status)."""
    market = commands.add_parser("marketplace", help="marketplace API clients, keys, audit")
    sub = market.add_subparsers(dest="area", required=True, metavar="AREA")
    clients = sub.add_parser("clients", help="OAuth clients").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = clients.add_parser("create", help="create a client; prints its secret once")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", required=True, help=f"space-separated: {' '.join(SCOPES)}")
    create.add_argument("--rate-limit", type=int, help="requests per minute (default: global)")
    _json_flag(create)
    create.set_defaults(func=_run(_clients_create))
    listing = clients.add_parser("list", help="list clients (never their secrets)")
    _json_flag(listing)
    listing.set_defaults(func=_run(_clients_list))
    revoke = clients.add_parser("revoke", help="revoke a client and its tokens")
    revoke.add_argument("client_id")
    revoke.set_defaults(func=_run(_clients_revoke))
    rotate = clients.add_parser(
        "rotate-secret", help="a new secret (shown once); the old one works until the grace ends"
    )
    rotate.add_argument("client_id")
    rotate.add_argument(
        "--grace",
        type=grace_seconds,
        default=grace_seconds("24h"),
        help="how long the old secret keeps working: 24h (default), 90m, 7d, 0 (not at all)",
    )
    _json_flag(rotate)
    rotate.set_defaults(func=_run(_clients_rotate_secret))

    keys = sub.add_parser("keys", help="token signing keys").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    keys.add_parser("rotate", help="sign new tokens with a new key").set_defaults(
        func=_run(_keys_rotate)
    )
    key_list = keys.add_parser("list", help="key ids")
    _json_flag(key_list)
    key_list.set_defaults(func=_run(_keys_list))
    retire = keys.add_parser("retire", help="refuse tokens signed with a key")
    retire.add_argument("kid")
    retire.set_defaults(func=_run(_keys_retire))

    cli_apps.register(sub, _run)
    register_marketplace_alias(sub, _run)
    sub.add_parser("status", help="projection lag and webhook backlog (JSON)").set_defaults(
        func=_run(_status)
    )
