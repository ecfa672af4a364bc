"""The projection's `lrs` subcommands (`register` is called by the `lrs` entry point, `lrs.cli`).

lrs worker [--once] [--no-webhooks] [--retention-daily]   project statements (and deliver
                                         webhooks; apply the retention periods daily)
lrs identities import|conflicts|resolve|link|unmatched   the HRIS identity map (identity_cli)
lrs identities reveal|pseudonyms         pseudonyms (cli_privacy)
lrs reconcile [--fix] [--json]           rebuild records from statements, report drift
lrs export --format ndjson|csv [--gzip] [--since T] [--output PATH]
lrs marketplace clients create|list|revoke, keys rotate|list|retire, status
lrs audit [--since T] [--type T] [--json], audit verify   (`projections.cli_audit`)
lrs webhooks subscribe|list|delete|dead-letters|redeliver
lrs retention, lrs identities reveal|pseudonyms: see projections.cli_privacy
lrs hris sources create|list|rotate|revoke   HRIS event sources (`projections.hris_cli`)
lrs quality list|show|retry|dismiss      the data-quality queue (`projections.quality_cli`)
lrs mapping check FILE | diff NEW.csv [--sample N]   stage a mapping (`projections.mapping_cli`)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from lrs.cli_support import with_backend
from lrs.errors import ValidationError
from lrs.settings import Settings
from lrs.store.base import Backend
from lrs.xapi.timestamps import timestamp_us
from projections import cli_privacy, hris_cli, identity_cli, mapping_cli, quality_cli
from projections.cli_audit import register_audit, register_marketplace_alias
from projections.export import FORMATS, ProgressBar, export_to_file
from projections.http.webhooks import delivery_json, subscription_json
from projections.identity_rows import IdentityFileError
from projections.quality import open_statement_ids, retry
from projections.retention import DailyRetention
from projections.service import Projection, open_projection
from projections.settings import ProjectionSettings
from projections.tokens import SCOPES
from projections.transforms import MappingError
from projections.wakeup import Wakeup
from projections.webhooks import EVENT_TYPES, wall_clock_us


class ProjectionCommandConfig(Protocol):
    """What the marketplace commands read of the process configuration (`lrs.config.Config`).

    A structural type, so that this package does not import the composition root's config
    (which imports every package's settings).
    """

    @property
    def core(self) -> Settings: ...

    @property
    def projection(self) -> ProjectionSettings: ...


Job = Callable[[Projection, argparse.Namespace], Awaitable[int]]


def _run(job: Job) -> Callable[[argparse.Namespace, ProjectionCommandConfig], int]:
    """A command function: open the backend and the projection, run `job`, close."""

    def command(args: argparse.Namespace, config: ProjectionCommandConfig) -> int:
        settings, projection_settings = config.core, config.projection
        try:

            async def on_backend(backend: Backend) -> int:
                projection = await open_projection(backend, settings, projection_settings)
                return await job(projection, args)

            return with_backend(settings, on_backend)
        except (MappingError, IdentityFileError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return command


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if getattr(args, "json", False) else text)


# --- worker, reconcile, export ----------------------------------------------------


async def _worker(projection: Projection, args: argparse.Namespace) -> int:
    if args.once:
        applied = await projection.worker.drain()
        if args.retention_daily or projection.settings.retention_daily:
            daily = DailyRetention(projection.retention, projection.projector.clock)
            report = await daily.run_due()
            removed = len(report.statement_ids()) if report else 0
            print(f"retention: {removed} statements past their period re-applied")
        async with aiohttp.ClientSession() as session:
            sent = 0 if args.no_webhooks else await projection.webhooks.run_once(session)
        print(f"applied {applied} statements; {sent} webhook events fanned out or sent")
        return 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    poll = projection.settings.worker_poll_s
    dispatcher_wake = Wakeup()  # the worker wakes the dispatcher when it has applied statements
    runs = [projection.worker.run(stop, poll, on_applied=dispatcher_wake.set)]
    if not args.no_webhooks:
        runs.append(projection.webhooks.run(stop, poll, wake=dispatcher_wake))
    if args.retention_daily or projection.settings.retention_daily:
        runs.append(DailyRetention(projection.retention, projection.projector.clock).run(stop))
    print(f"projection worker {projection.worker.owner} running; Ctrl-C stops it", flush=True)
    await asyncio.gather(*runs)
    return 0


async def _reconcile(projection: Projection, args: argparse.Namespace) -> int:
    report = await projection.reconciler.reconcile(fix=args.fix)
    data = report.to_json()
    lines = [
        f"records expected {report.expected}, stored {report.stored}",
        f"differing {len(report.differing)}, missing {len(report.missing)}, "
        f"extra {len(report.extra)}: drift {report.drift} ({report.drift_percent}%)",
        f"awaiting projection {report.awaiting}, unmatched {report.unmatched}",
    ]
    if args.fix:
        lines.append(f"fixed {report.fixed}")
        lines.append(await _retry_stale_quality(projection))
    if report.awaiting:
        lines.append("note: statements awaiting projection count as drift until projected")
    _print(args, data, "\n".join(lines))
    return 0 if report.drift == 0 else 1


async def _retry_stale_quality(projection: Projection) -> str:
    """After a fix (a new mapping deployed): the quality items recorded under an older mapping
    are retried, so those that map now are resolved."""
    store = projection.stores.quality
    stale = await open_statement_ids(store, older_than=projection.projector.mapping.version)
    remaining = await retry(store, projection.worker.reapply, stale)
    await projection.stores.aggregates.publish_events()
    return f"quality items of older mappings retried: {len(stale)} statements, {remaining} open"


async def _export(projection: Projection, args: argparse.Namespace) -> int:
    since = None
    if args.since:
        try:
            since = timestamp_us(args.since, path="--since")
        except ValidationError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
    suffix = f".{args.format}" + (".gz" if args.gzip else "")
    path = Path(args.output or f"marketplace-records{suffix}")
    count, checksum = await export_to_file(
        projection.stores.aggregates,
        path,
        fmt=args.format,
        compress=args.gzip,
        since_us=since,
        progress=None if args.quiet else ProgressBar,
        disclosure=projection.disclosure,
    )
    print(f"wrote {count} records to {path} (sha256 {checksum}, in {path}.sha256)")
    return 0


# --- marketplace clients, keys, audit, status -------------------------------------------------


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
    rows = [
        {"client_id": c.client_id, "name": c.name, "scopes": list(c.scopes), "revoked": c.revoked}
        for c in clients
    ]
    text = "\n".join(
        f"{c.client_id}  {'revoked' if c.revoked else 'active':8} {c.name}  [{' '.join(c.scopes)}]"
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
        print(f"retired {args.kid}: tokens it signed are refused from now on")
        return 0
    print(f"no key {args.kid}", file=sys.stderr)
    return 1


async def _status(projection: Projection, args: argparse.Namespace) -> int:
    status = await projection.status()
    print(json.dumps(status, indent=2))
    return 0


# --- webhooks -----------------------------------------------------------------------------------


async def _subscribe(projection: Projection, args: argparse.Namespace) -> int:
    subscription, secret = await projection.webhooks.subscribe(
        args.url,
        event_types=args.event or [],
        verbs=args.verb or [],
        activities=args.activity or [],
        members=args.member or [],
    )
    data = {**subscription_json(subscription), "secret": secret}
    _print(args, data, f"subscription {subscription.id}\nsecret: {secret}\n(shown only now)")
    return 0


async def _subscriptions(projection: Projection, args: argparse.Namespace) -> int:
    rows = [subscription_json(s) for s in await projection.stores.deliveries.list_subscriptions()]
    _print(args, rows, "\n".join(f"{r['id']}  {r['url']}  {r['event_types'] or '*'}" for r in rows))
    return 0


async def _unsubscribe(projection: Projection, args: argparse.Namespace) -> int:
    if await projection.stores.deliveries.delete_subscription(args.id):
        print(f"deleted {args.id}")
        return 0
    print(f"no subscription {args.id}", file=sys.stderr)
    return 1


async def _dead_letters(projection: Projection, args: argparse.Namespace) -> int:
    rows = [delivery_json(d) for d in await projection.stores.deliveries.dead_letters(args.limit)]
    text = (
        "\n".join(f"{r['id']}  attempts {r['attempts']}  {r['last_error']}" for r in rows)
        or "no dead letters"
    )
    _print(args, rows, text)
    return 0


async def _redeliver(projection: Projection, args: argparse.Namespace) -> int:
    if not args.all and not args.ids:
        print("error: name delivery ids, or --all", file=sys.stderr)
        return 2
    ids = None if args.all else args.ids
    count = await projection.stores.deliveries.redeliver(ids, wall_clock_us())
    print(f"{count} dead letters queued for delivery again")
    return 0


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")


def register(commands: Any) -> None:
    """Add the projection's subcommands to the `lrs` parser."""
    worker = commands.add_parser("worker", help="run the marketplace projection worker")
    worker.add_argument("--once", action="store_true", help="drain what is waiting, then stop")
    worker.add_argument("--no-webhooks", action="store_true", help="do not deliver webhooks")
    worker.add_argument(
        "--retention-daily",
        action="store_true",
        help="apply the mapping's retention periods at start and then once a day",
    )
    worker.set_defaults(func=_run(_worker))

    identities = commands.add_parser("identities", help="the HRIS identity map")
    ident = identities.add_subparsers(dest="action", required=True, metavar="ACTION")
    identity_cli.register(ident, _run, _json_flag)
    cli_privacy.register_identities(ident, _run)

    reconcile = commands.add_parser("reconcile", help="rebuild records, report (and fix) drift")
    reconcile.add_argument("--fix", action="store_true", help="correct what differs")
    _json_flag(reconcile)
    reconcile.set_defaults(func=_run(_reconcile))

    export = commands.add_parser("export", help="write the marketplace records to a file")
    export.add_argument("--format", choices=FORMATS, default="ndjson")
    export.add_argument("--gzip", action="store_true", help="compress the file")
    export.add_argument("--since", help="only records updated after this ISO 8601 time")
    export.add_argument("--output", help="file to write (default marketplace-records.<format>)")
    export.add_argument("--quiet", action="store_true", help="no progress bar")
    export.set_defaults(func=_run(_export))

    cli_privacy.register_retention(commands, _run)
    _register_marketplace(commands)
    register_audit(commands, _run)
    hris_cli.register(commands, _run, _json_flag)
    _register_webhooks(commands)
    quality_cli.register(commands, _run, _json_flag)
    mapping_cli.register(commands, _run, _json_flag)


def _register_marketplace(commands: Any) -> None:
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

    register_marketplace_alias(sub, _run)
    sub.add_parser("status", help="projection lag and webhook backlog (JSON)").set_defaults(
        func=_run(_status)
    )


def _register_webhooks(commands: Any) -> None:
    hooks = commands.add_parser("webhooks", help="webhook subscriptions and dead letters")
    sub = hooks.add_subparsers(dest="action", required=True, metavar="ACTION")
    subscribe = sub.add_parser("subscribe", help="add a subscription; prints its secret once")
    subscribe.add_argument("--url", required=True)
    subscribe.add_argument("--event", action="append", choices=EVENT_TYPES, help="repeatable")
    subscribe.add_argument("--verb", action="append", help="only changes by this verb IRI")
    subscribe.add_argument("--activity", action="append", help="only this activity id")
    subscribe.add_argument("--member", action="append", help="only this member id")
    _json_flag(subscribe)
    subscribe.set_defaults(func=_run(_subscribe))
    listing = sub.add_parser("list", help="subscriptions")
    _json_flag(listing)
    listing.set_defaults(func=_run(_subscriptions))
    delete = sub.add_parser("delete", help="remove a subscription")
    delete.add_argument("id")
    delete.set_defaults(func=_run(_unsubscribe))
    dead = sub.add_parser("dead-letters", help="deliveries that gave up")
    dead.add_argument("--limit", type=int, default=100)
    _json_flag(dead)
    dead.set_defaults(func=_run(_dead_letters))
    again = sub.add_parser("redeliver", help="queue dead letters again")
    again.add_argument("ids", nargs="*", help="delivery ids (see dead-letters)")
    again.add_argument("--all", action="store_true", help="every dead letter")
    again.set_defaults(func=_run(_redeliver))
