"""`lrs operators create|list|disable|reset`: the console's accounts from the command line.

`create` and `reset` print a one-time set-password link (`<public base URL>/console/set-password
?token=...`): the token is shown only then and stored hashed; it works once and expires after
LRS_CONSOLE_LINK_MINUTES. Changes are audited with the actor `cli`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from console.accounts import Accounts, Link
from console.settings import ConsoleSettings
from console.store import open_console_stores
from console.store.base import ROLES
from lrs.cli_support import with_backend
from lrs.settings import Settings, public_base_url
from lrs.store.base import Backend
from lrs.store.engine import open_store
from projections.audit import AuditLog
from projections.store.mongo_audit import MongoAuditStore
from projections.store.sqlite_audit import SQLiteAuditStore

ACTOR = "cli"


class ConsoleCommandConfig(Protocol):
    """What these commands read of the process configuration (`lrs.config.Config`)."""

    @property
    def core(self) -> Settings: ...

    @property
    def console(self) -> ConsoleSettings: ...


Job = Callable[[Accounts, argparse.Namespace, Settings], Awaitable[int]]


def _run(job: Job) -> Callable[[argparse.Namespace, ConsoleCommandConfig], int]:
    def command(args: argparse.Namespace, config: ConsoleCommandConfig) -> int:
        async def on_backend(backend: Backend) -> int:
            stores = await open_console_stores(backend)
            audit = AuditLog(
                await open_store(backend, sqlite=SQLiteAuditStore, mongo=MongoAuditStore)
            )
            accounts = Accounts(stores.operators, stores.sessions, audit, config.console)
            return await job(accounts, args, config.core)

        return with_backend(config.core, on_backend)

    return command


def _print_link(link: Link, settings: Settings) -> None:
    url = f"{public_base_url(settings)}/console/set-password?token={link.token}"
    expires = datetime.fromtimestamp(link.expires_us / 1e6, UTC).isoformat(timespec="minutes")
    print(f"set-password link for {link.name} (works once, until {expires}):\n{url}")


async def _create(accounts: Accounts, args: argparse.Namespace, settings: Settings) -> int:
    _print_link(await accounts.create(args.name, args.role, actor=ACTOR), settings)
    return 0


async def _reset(accounts: Accounts, args: argparse.Namespace, settings: Settings) -> int:
    _print_link(await accounts.reset(args.name, actor=ACTOR), settings)
    return 0


async def _disable(accounts: Accounts, args: argparse.Namespace, settings: Settings) -> int:
    await accounts.disable(args.name, actor=ACTOR)
    print(f"disabled {args.name}; its sessions are ended")
    return 0


async def _list(accounts: Accounts, args: argparse.Namespace, settings: Settings) -> int:
    rows: list[dict[str, Any]] = [
        {
            "name": o.name,
            "role": o.role,
            "created_at": datetime.fromtimestamp(o.created_us / 1e6, UTC).isoformat(
                timespec="seconds"
            ),
            "disabled": o.disabled,
            "password_set": o.password_hash is not None,
        }
        for o in await accounts.list()
    ]
    if args.json:
        print(json.dumps(rows))
    for row in [] if args.json else rows:
        state = (
            "disabled" if row["disabled"] else "active" if row["password_set"] else "no password"
        )
        print(f"{row['name']:20} {row['role']:9} {state:12} {row['created_at']}")
    return 0


def register(commands: Any) -> None:
    """Add `operators` to the `lrs` command."""
    parser = commands.add_parser("operators", help="console operator accounts")
    sub = parser.add_subparsers(dest="operators_command", required=True)
    create = sub.add_parser("create", help="add an operator; prints a one-time set-password link")
    create.add_argument("name")
    create.add_argument("--role", choices=ROLES, required=True)
    create.set_defaults(func=_run(_create))
    listing = sub.add_parser("list", help="list operators (never a password)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_run(_list))
    disable = sub.add_parser("disable", help="refuse an operator's logins, end its sessions")
    disable.add_argument("name")
    disable.set_defaults(func=_run(_disable))
    reset = sub.add_parser(
        "reset", help="clear the password, enable the account; prints a new set-password link"
    )
    reset.add_argument("name")
    reset.set_defaults(func=_run(_reset))
