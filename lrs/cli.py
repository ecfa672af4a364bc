"""The `lrs` command: serve the LRS and manage its credentials."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from console import cli as console_cli
from lrs.app import create_app
from lrs.auth import SCOPES, create_credential
from lrs.cli_support import with_backend
from lrs.config import Config
from lrs.errors import ConfigError, LRSError
from lrs.gc_tuning import tune_for_serving
from lrs.migration import cli as migration_cli
from lrs.serving import run as run_server
from lrs.settings import public_base_url
from lrs.store.base import Backend
from lti import cli as lti_cli
from projections import cli as projections_cli
from scorm_adapter import cli as scorm_cli


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


def _register_packages(commands: Any) -> None:
    """Each package's subcommands: parsers whose `func(args, config) -> int` runs the command."""
    migration_cli.register(commands)
    lti_cli.register(commands)
    scorm_cli.register(commands)
    projections_cli.register(commands)
    console_cli.register(commands)


def _serve(args: argparse.Namespace, config: Config) -> int:
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    if args.with_worker:
        overrides["with_worker"] = True
    settings = config.core.with_overrides(**overrides)
    store = (
        f"MongoDB ({settings.mongodb_database})"
        if settings.mongodb_uri
        else (f"SQLite in {settings.data_dir.resolve()}")
    )
    app = create_app(replace(config, core=settings))  # a bad mapping stops here, unannounced
    print(f"xAPI endpoint: {public_base_url(settings)}/xapi/  (store: {store})", flush=True)
    print(
        "Credentials: create one with "
        "`lrs credentials create --name demo --scopes all` and use its key and secret "
        "as the HTTP Basic user and password.",
        flush=True,
    )
    tune_for_serving()
    run_server(app, settings)
    return 0


def _credentials_create(args: argparse.Namespace, config: Config) -> int:
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

    return with_backend(config.core, job)


def _credentials_list(args: argparse.Namespace, config: Config) -> int:
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

    return with_backend(config.core, job)


def _credentials_revoke(args: argparse.Namespace, config: Config) -> int:
    async def job(backend: Backend) -> int:
        if await backend.credentials.revoke_credential(args.key):
            print(f"revoked {args.key}")
            return 0
        print(f"no credential {args.key}", file=sys.stderr)
        return 1

    return with_backend(config.core, job)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lrs` console command: a bad setting is one line on stderr, exit 2."""
    args = _parser().parse_args(argv)
    try:
        config = Config.from_env()
        logging.basicConfig(
            level=config.core.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )
        return args.func(args, config)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except LRSError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
