"""The projection's `lrs` subcommands (`register` is called by the `lrs` entry point, `lrs.cli`).

lrs worker [--once] [--no-webhooks] [--retention-daily] [--reconcile-daily]   project
                                         statements (and deliver webhooks; apply the retention
                                         periods daily; reconcile and fix daily); forget
                                         expired OAuth codes and refresh tokens hourly
lrs identities import|conflicts|resolve|link|unmatched   the HRIS identity map (identity_cli)
lrs identities reveal|pseudonyms         pseudonyms (cli_privacy)
lrs reconcile [--fix] [--json], history, flagged   rebuild records from statements, report
                                         drift; the recorded runs (`projections.reconcile_cli`)
lrs export --format ndjson|csv [--gzip] [--since T] [--output PATH]
lrs marketplace clients create|list|revoke|rotate-secret, keys rotate|list|retire, status
lrs audit [--since T] [--type T] [--json], audit verify   (`projections.cli_audit`)
lrs webhooks subscribe|list|delete|dead-letters|redeliver|replay
lrs retention, lrs identities reveal|pseudonyms: see projections.cli_privacy
lrs hris sources create|list|rotate|revoke   HRIS event sources (`projections.hris_cli`)
lrs quality list|show|retry|dismiss      the data-quality queue (`projections.quality_cli`)
lrs mapping check FILE | diff NEW.csv [--sample N]   stage a mapping (`projections.mapping_cli`)
lrs mapping deploy [--page N]             re-project the records of older mapping versions
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

from lrs.cli_support import with_backend
from lrs.errors import NotFound, ValidationError
from lrs.settings import Settings
from lrs.store.base import Backend
from lrs.xapi.timestamps import timestamp_us
from projections import (
    cli_clients,
    cli_privacy,
    hris_cli,
    identity_cli,
    mapping_cli,
    quality_cli,
    reconcile_cli,
)
from projections.cli_audit import register_audit
from projections.export import FORMATS, ProgressBar, export_to_file
from projections.http.webhooks import delivery_json, subscription_json
from projections.identity_rows import IdentityFileError
from projections.oauth_housekeeping import OAuthHousekeeping, summary
from projections.reconcile_runs import DailyReconcile
from projections.replay import Replayer
from projections.retention import DailyRetention
from projections.scopes import SCOPES
from projections.service import Projection, open_projection
from projections.settings import ProjectionSettings
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
    housekeeping = OAuthHousekeeping(projection.grants, projection.projector.clock)
    if args.once:
        applied = await projection.worker.drain()
        forgotten = summary(await housekeeping.run_due())
        if forgotten:
            print(forgotten)
        if args.retention_daily or projection.settings.retention_daily:
            daily = DailyRetention(projection.retention, projection.projector.clock)
            report = await daily.run_due()
            removed = len(report.statement_ids()) if report else 0
            print(f"retention: {removed} statements past their period re-applied")
        if args.reconcile_daily or projection.settings.reconcile_daily:
            await _reconcile_once(projection)
        if args.no_webhooks:
            print(f"applied {applied} statements")
            return 0
        async with projection.webhooks.session() as session:
            drained = await projection.webhooks.drain(session)
        print(
            f"applied {applied} statements; {drained.fanned} webhook events fanned out, "
            f"{drained.attempted} deliveries attempted"
        )
        return 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    poll = projection.settings.worker_poll_s
    dispatcher_wake = Wakeup()  # the worker wakes the dispatcher when it has applied statements
    runs = [
        projection.worker.run(stop, poll, on_applied=dispatcher_wake.set),
        housekeeping.run(stop),
    ]
    if not args.no_webhooks:
        runs.append(projection.webhooks.run(stop, poll, wake=dispatcher_wake))
    if args.retention_daily or projection.settings.retention_daily:
        runs.append(DailyRetention(projection.retention, projection.projector.clock).run(stop))
    if args.reconcile_daily or projection.settings.reconcile_daily:
        runs.append(DailyReconcile(projection.reconcile_runs, projection.projector.clock).run(stop))
    print(f"projection worker {projection.worker.owner} running; Ctrl-C stops it", flush=True)
    await asyncio.gather(*runs)
    return 0


async def _reconcile_once(projection: Projection) -> None:
    """`--once --reconcile-daily`: the day's run, fixing what it safely can."""
    done = await DailyReconcile(projection.reconcile_runs, projection.projector.clock).run_due()
    if done is not None:
        run = done[1]
        print(
            f"reconcile: drift {run.drift} ({run.drift_percent}%), fixed {run.fixed}, "
            f"flagged {run.flagged_count}"
        )


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
    removals = " (removals included: a delta)" if since is not None else ""
    print(f"wrote {count} records{removals} to {path} (sha256 {checksum}, in {path}.sha256)")
    return 0


# --- webhooks -----------------------------------------------------------------------------------


async def _subscribe(projection: Projection, args: argparse.Namespace) -> int:
    subscription, secret = await projection.webhooks.subscribe(
        args.url,
        event_types=args.event or [],
        verbs=args.verb or [],
        activities=args.activity or [],
        members=args.member or [],
        scopes=args.scope or [],
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
    ids = None if args.all else sorted(set(args.ids))
    count = await projection.stores.deliveries.redeliver(ids, wall_clock_us())
    if ids is not None and count < len(ids):
        # a typo or a delivery that is not dead: an error, not "0 queued" and success
        named = ids[0] if len(ids) == 1 else f"{len(ids) - count} of the {len(ids)} ids"
        print(
            f"error: {named}: no such dead letter (unknown id, or not dead); "
            f"{count} dead letters queued",
            file=sys.stderr,
        )
        return 1
    print(f"{count} dead letters queued for delivery again")
    return 0


async def _replay(projection: Projection, args: argparse.Namespace) -> int:
    since = None
    if args.since:
        try:
            since = timestamp_us(args.since, path="--since")
        except ValidationError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
    replayer = Replayer(projection.stores, projection.disclosure, wall_clock_us)
    try:
        report = await replayer.replay(args.subscription, since_us=since, member_id=args.member)
    except NotFound as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    data = {"subscription_id": report.subscription_id, "records": report.records}
    data["queued"] = report.queued
    text = (
        f"{report.queued} replay events queued for {report.subscription_id} "
        f"({report.records} records read; the worker delivers them)"
    )
    _print(args, data, text)
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
    worker.add_argument(
        "--reconcile-daily",
        action="store_true",
        help="reconcile and fix (not the flagged cases) at start and then once a day; "
        "each run is recorded (lrs reconcile history)",
    )
    worker.set_defaults(func=_run(_worker))

    identities = commands.add_parser("identities", help="the HRIS identity map")
    ident = identities.add_subparsers(dest="action", required=True, metavar="ACTION")
    identity_cli.register(ident, _run, _json_flag)
    cli_privacy.register_identities(ident, _run)

    reconcile_cli.register(commands, _run, _json_flag)

    export = commands.add_parser("export", help="write the marketplace records to a file")
    export.add_argument("--format", choices=FORMATS, default="ndjson")
    export.add_argument("--gzip", action="store_true", help="compress the file")
    export.add_argument("--since", help="only records updated after this ISO 8601 time")
    export.add_argument("--output", help="file to write (default marketplace-records.<format>)")
    export.add_argument("--quiet", action="store_true", help="no progress bar")
    export.set_defaults(func=_run(_export))

    cli_privacy.register_retention(commands, _run)
    cli_clients.register_marketplace(commands, _run)
    register_audit(commands, _run)
    hris_cli.register(commands, _run, _json_flag)
    _register_webhooks(commands)
    quality_cli.register(commands, _run, _json_flag)
    mapping_cli.register(commands, _run, _json_flag)


def _register_webhooks(commands: Any) -> None:
    hooks = commands.add_parser("webhooks", help="webhook subscriptions, dead letters, replays")
    sub = hooks.add_subparsers(dest="action", required=True, metavar="ACTION")
    subscribe = sub.add_parser("subscribe", help="add a subscription; prints its secret once")
    subscribe.add_argument("--url", required=True)
    subscribe.add_argument("--event", action="append", choices=EVENT_TYPES, help="repeatable")
    subscribe.add_argument(
        "--verb", action="append", help="only changes caused by a statement with this verb IRI"
    )
    subscribe.add_argument("--activity", action="append", help="only this activity id")
    subscribe.add_argument("--member", action="append", help="only this member id")
    subscribe.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        help="its events carry only the fields this OAuth scope opens (repeatable; none: all)",
    )
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
    replay = sub.add_parser(
        "replay", help="send the current state of records to one subscription (as replays)"
    )
    replay.add_argument("subscription", help="subscription id (see list)")
    replay.add_argument("--since", help="only records updated after this ISO 8601 time")
    replay.add_argument("--member", help="only this member's records (member id)")
    _json_flag(replay)
    replay.set_defaults(func=_run(_replay))
