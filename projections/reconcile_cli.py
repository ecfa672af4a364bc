"""`lrs reconcile [--fix [--include-flagged]] [--json]`, `lrs reconcile history [--days 7]
[--json]` and `lrs reconcile flagged [--json]`: reconciliation as an operation
(`projections.reconcile_runs`). Every run, manual or scheduled, is recorded."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from projections.quality import open_statement_ids, retry
from projections.reconcile import DriftReport
from projections.reconcile_runs import DRIFT_SLO_PERCENT, run_json
from projections.service import Projection


def rollout_lines(report: DriftReport) -> list[str]:
    """The records of another mapping version: a planned rollout, not drift."""
    lines = []
    if report.reprojected:
        lines.append(f"mapping version rollout: {report.reprojected} records re-projected")
    if report.rollout:
        lines.append(
            f"mapping version rollout pending: {len(report.rollout)} records "
            "(not drift; lrs mapping deploy re-projects them)"
        )
    return lines


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if getattr(args, "json", False) else text)


async def reconcile(projection: Projection, args: argparse.Namespace) -> int:
    """Compare (and fix), record the run; exit 1 while drift found remains (not drift that
    arrived during the run: statements stored meanwhile, awaiting the worker)."""
    report, run = await projection.reconcile_runs.run(
        fix=args.fix, include_flagged=args.include_flagged
    )
    data = {**report.to_json(), "run_id": run.id}
    lines = [
        f"records expected {report.expected}, stored {report.stored}",
        f"differing {len(report.differing)}, missing {len(report.missing)}, "
        f"extra {len(report.extra)}: drift {report.drift} ({report.drift_percent}%)",
        f"awaiting projection {report.awaiting}, unmatched {report.unmatched}",
    ]
    lines += rollout_lines(report)
    if args.fix:
        lines.append(f"fixed {report.fixed}")
        lines.append(await retry_stale_quality(projection))
    if report.arrived:
        lines.append(
            f"drift new since the run began {len(report.arrived)} "
            "(statements stored meanwhile, awaiting the worker; not counted as unresolved)"
        )
    if report.flagged:
        lines.append(f"flagged for review {len(report.flagged)} (not fixed): lrs reconcile flagged")
    if report.awaiting:
        lines.append("note: statements awaiting projection count as drift until projected")
    lines.append(f"run {run.id} recorded")
    _print(args, data, "\n".join(lines))
    return 0 if report.unresolved == 0 else 1


async def history(projection: Projection, args: argparse.Namespace) -> int:
    """The runs of the last `--days`; exit 1 when a run found drift at or above the SLO."""
    found = await projection.reconcile_runs.history(args.days)
    lines = [
        f"{r.trigger:9} {run_json(r)['started_at']}  checked {r.records_checked}  "
        f"drift {r.drift} ({r.drift_percent}%)  fixed {r.fixed}  flagged {r.flagged_count}"
        for r in found.runs
    ]
    verdict = {True: "held", False: "NOT held", None: "unknown (no run)"}[found.held]
    lines.append(
        f"{len(found.runs)} runs in {found.days} days; drift < {DRIFT_SLO_PERCENT}%: {verdict}"
    )
    _print(args, found.to_json(), "\n".join(lines))
    return 1 if found.held is False else 0


async def flagged(projection: Projection, args: argparse.Namespace) -> int:
    """The cases the newest run flagged for review."""
    run = await projection.reconcile_runs.latest()
    cases = list(run.flagged) if run is not None else []
    data = {"run": run_json(run, with_flagged=False) if run else None, "flagged": cases}
    lines = [
        f"{c['kind']:17} statement {c['statement_id']}  {c['activity_id']}  "
        f"counted for {c['counted_for']}, now {c['now_for'] or 'nobody'}"
        for c in cases
    ]
    if run is not None and run.flagged_count > len(cases):
        lines.append(f"... {run.flagged_count - len(cases)} more (the run kept {len(cases)})")
    _print(args, data, "\n".join(lines) or "nothing flagged")
    return 0


Runner = Callable[[Any], Any]
MAX_DAYS = 366  # as the API's `days`


def _days(text: str) -> int:
    """`--days`: a whole number of days, 1..366."""
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days from 1 to {MAX_DAYS}")
    return int(text)


def register(commands: Any, run: Runner, json_flag: Callable[[Any], None]) -> None:
    """Add `lrs reconcile` and its `history` and `flagged` actions."""
    parser = commands.add_parser("reconcile", help="rebuild records, report (and fix) drift")
    parser.add_argument("--fix", action="store_true", help="correct what differs")
    parser.add_argument(
        "--include-flagged",
        action="store_true",
        help="with --fix: also fix the cases flagged for review (after reviewing them)",
    )
    json_flag(parser)
    parser.set_defaults(func=run(reconcile))
    actions = parser.add_subparsers(dest="reconcile_action", metavar="ACTION")
    past = actions.add_parser("history", help="recorded runs and the drift SLO over a window")
    past.add_argument("--days", type=_days, default=7, help="the window (default 7 days)")
    json_flag(past)
    past.set_defaults(func=run(history))
    review = actions.add_parser("flagged", help="cases the last run flagged for review")
    json_flag(review)
    review.set_defaults(func=run(flagged))


async def retry_stale_quality(projection: Projection) -> str:
    """After a fix (a new mapping deployed): the quality items recorded under an older mapping
    are retried, so those that map now are resolved."""
    store = projection.stores.quality
    stale = await open_statement_ids(store, older_than=projection.projector.mapping.version)
    remaining = await retry(store, projection.worker.reapply, stale)
    await projection.stores.aggregates.publish_events()
    return f"quality items of older mappings retried: {len(stale)} statements, {remaining} open"
