"""The `lrs` command: serve the LRS and manage its credentials."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from lrs.app import create_app, public_base_url
from lrs.auth import SCOPES, create_credential
from lrs.errors import LRSError
from lrs.gc_tuning import tune_for_serving
from lrs.settings import Settings
from lrs.store.base import Backend
from lrs.store.factory import open_backend


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrs",
        description="An xAPI Learning Record Store. Configuration comes from LRS_* "
        "environment variables (see the README); flags override them.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the LRS HTTP server")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1, env LRS_HOST)")
    serve.add_argument("--port", type=int, help="port to bind (default 8080, env LRS_PORT)")
    serve.add_argument(
        "--with-worker",
        action="store_true",
        help="also run the marketplace projection worker in this process (env LRS_WITH_WORKER)",
    )
    serve.set_defaults(func=_serve)

    creds = commands.add_parser("credentials", help="create, list and revoke API credentials")
    cred_commands = creds.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = cred_commands.add_parser(
        "create", help="create a credential and print its key and secret once"
    )
    create.add_argument("--name", required=True, help="who the credential is for")
    create.add_argument(
        "--scopes",
        default="all",
        help=f"space-separated xAPI scopes (default: all); known: {' '.join(SCOPES)}",
    )
    create.add_argument("--json", action="store_true", help="print JSON, for scripts")
    create.set_defaults(func=_credentials_create)
    listing = cred_commands.add_parser("list", help="list credentials (never their secrets)")
    listing.add_argument("--json", action="store_true", help="print JSON, for scripts")
    listing.set_defaults(func=_credentials_list)
    revoke = cred_commands.add_parser("revoke", help="revoke a credential by key")
    revoke.add_argument("key", help="the credential's key")
    revoke.set_defaults(func=_credentials_revoke)
    _register_packages(commands)
    return parser


def with_backend(settings: Settings, job: Callable[[Backend], Awaitable[int]]) -> int:
    """Run `job` on the configured backend, opened for it and closed after; its exit code."""

    async def run() -> int:
        backend = await open_backend(settings)
        try:
            return await job(backend)
        finally:
            await backend.close()

    return asyncio.run(run())


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (batch sizes and the like)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


# Subcommands of other packages: each module has `register(commands)`, adding parsers whose
# `func(args, settings) -> int` runs the command. One line per package.
PACKAGE_COMMANDS: tuple[str, ...] = (
    "lrs.migration",
    "lti.cli",
    "scorm_adapter.cli",
    "projections.cli",
)


def _register_packages(commands: Any) -> None:
    for module_name in PACKAGE_COMMANDS:
        importlib.import_module(module_name).register(commands)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    if args.with_worker:
        overrides["with_worker"] = True
    settings = settings.with_overrides(**overrides)
    store = (
        f"MongoDB ({settings.mongodb_database})"
        if settings.mongodb_uri
        else (f"SQLite in {settings.data_dir.resolve()}")
    )
    print(f"xAPI endpoint: {public_base_url(settings)}/xapi/  (store: {store})", flush=True)
    print(
        "Credentials: create one with "
        "`lrs credentials create --name demo --scopes all` and use its key and secret "
        "as the HTTP Basic user and password.",
        flush=True,
    )
    tune_for_serving()
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
    return 0


def _credentials_create(args: argparse.Namespace, settings: Settings) -> int:
    async def job(backend: Backend) -> int:
        new = await create_credential(backend.credentials, args.name, args.scopes.split())
        if args.json:
            print(
                json.dumps(
                    {
                        "key": new.credential.key,
                        "secret": new.secret,
                        "name": new.credential.name,
                        "scopes": list(new.credential.scopes),
                    }
                )
            )
        else:
            print(
                f"key:    {new.credential.key}\nsecret: {new.secret}\n"
                f"scopes: {' '.join(new.credential.scopes)}\n"
                "The secret is shown only now; only its hash is stored."
            )
        return 0

    return with_backend(settings, job)


def _credentials_list(args: argparse.Namespace, settings: Settings) -> int:
    async def job(backend: Backend) -> int:
        rows: list[dict[str, Any]] = [
            {
                "key": c.key,
                "name": c.name,
                "scopes": list(c.scopes),
                "created_at": c.created_at,
                "revoked": c.revoked,
            }
            for c in await backend.credentials.list_credentials()
        ]
        if args.json:
            print(json.dumps(rows))
        else:
            for row in rows:
                state = "revoked" if row["revoked"] else "active"
                print(f"{row['key']}  {state:8} {row['name']}  [{' '.join(row['scopes'])}]")
        return 0

    return with_backend(settings, job)


def _credentials_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def job(backend: Backend) -> int:
        if await backend.credentials.revoke_credential(args.key):
            print(f"revoked {args.key}")
            return 0
        print(f"no credential {args.key}", file=sys.stderr)
        return 1

    return with_backend(settings, job)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lrs` console command."""
    args = _parser().parse_args(argv)
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        return args.func(args, settings)
    except LRSError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
