"""The privacy subcommands of `lrs`, registered by `projections.cli`:

lrs retention --dry-run|--apply [--verbose] [--json]   the mapping's retention periods
lrs identities reveal ID [--json]                       the member behind a pseudonym (admin)
lrs identities pseudonyms rotate|list [--json]          the pseudonym key versions
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from projections.pseudonyms import FIRST_VERSION, parse_pseudonym, reveal_candidates
from projections.retention import RetentionReport
from projections.service import Projection
from projections.transforms import format_datetime

Job = Callable[[Projection, argparse.Namespace], Awaitable[int]]
Runner = Callable[[Job], Callable[..., int]]


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if getattr(args, "json", False) else text)


# --- retention ----------------------------------------------------------------------------------


async def _retention(projection: Projection, args: argparse.Namespace) -> int:
    if args.apply:
        report = await projection.retention.apply()
    else:
        report = await projection.retention.dry_run()
    _print(args, report.to_json(verbose=True), _retention_text(report, args.verbose))
    return 0


def _retention_text(report: RetentionReport, verbose: bool) -> str:
    if not report.findings:
        return "no retention period in the mapping: nothing to do"
    done = "removed" if report.applied else "past their period (dry run: nothing changed)"
    lines = [f"{len(report.statement_ids())} statements in {len(report.records())} records {done}"]
    for found in report.findings:
        rule = found.cutoff.rule
        lines.append(
            f"  row {rule.line} {rule.target} ({rule.policy.text}): "
            f"{len(found.statements)} statements, {len(found.records)} records, "
            f"{found.unmatched} unmatched"
        )
        if verbose:
            lines += [f"    statement {s}" for s in sorted(found.statements)]
            lines += [f"    record {m} {a}" for m, a in sorted(found.records)]
    if report.applied:
        lines.append(f"records removed {report.records_removed}, changed {report.records_changed}")
    if report.applied and report.members_pseudonymised:
        lines.append(
            f"statements of {report.members_pseudonymised} members pseudonymised "
            f"({report.statements_pseudonymised} statements)"
        )
    elif not report.applied and (due := len(report.members_to_pseudonymise())):
        lines.append(f"statements of {due} members to pseudonymise")
    return "\n".join(lines)


def register_retention(commands: Any, run: Runner) -> None:
    """`lrs retention`."""
    retention = commands.add_parser(
        "retention", help="find (--dry-run) or remove (--apply) what is past its retention period"
    )
    mode = retention.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="report, change nothing")
    mode.add_argument("--apply", action="store_true", help="remove it from the projection")
    retention.add_argument("--verbose", action="store_true", help="list statement and record ids")
    retention.add_argument("--json", action="store_true", help="print JSON (ids included)")
    retention.set_defaults(func=run(_retention))


# --- pseudonyms ---------------------------------------------------------------------------------


async def _reveal(projection: Projection, args: argparse.Namespace) -> int:
    pseudonyms = projection.disclosure.pseudonyms
    if parse_pseudonym(args.id) is None:
        return fail(f"{args.id!r} is not a pseudonym (pm_v<version>_<26 base32 characters>)")
    stores = projection.stores
    member_id = await pseudonyms.reveal(
        args.id, reveal_candidates(stores.identities, stores.aggregates)
    )
    await projection.audit.append(
        "pseudonym.revealed",
        actor="cli",
        subject=args.id,
        details={"found": member_id is not None},
        personal={args.id: member_id} if member_id else None,  # erased with the member
    )
    if member_id is None:
        return fail(f"no member has the pseudonym {args.id} (or its key version is unknown)")
    _print(args, {"pseudonym": args.id, "member_id": member_id}, member_id)
    return 0


async def _rotate(projection: Projection, args: argparse.Namespace) -> int:
    version = await projection.disclosure.pseudonyms.rotate()
    await projection.audit.append("pseudonym.key_rotated", actor="cli", subject=f"v{version}")
    _print(
        args,
        {"version": version},
        f"pseudonym key version {version}: new payloads name pseudonymous members by new ids; "
        "older ids still reveal",
    )
    return 0


async def _versions(projection: Projection, args: argparse.Namespace) -> int:
    current = await projection.disclosure.pseudonyms.current_version()
    keys = await projection.stores.pseudonym_keys.pseudonym_keys()
    rows = [{"version": FIRST_VERSION, "created_at": None}] + [
        {"version": k.version, "created_at": format_datetime(k.created_us)} for k in keys
    ]
    text = "\n".join(
        f"v{r['version']}  {r['created_at'] or 'initial'}"
        + ("  (current)" if r["version"] == current else "")
        for r in rows
    )
    _print(args, {"current": current, "versions": rows}, text)
    return 0


def register_identities(ident: Any, run: Runner) -> None:
    """`lrs identities reveal` and `lrs identities pseudonyms rotate|list`."""
    reveal = ident.add_parser("reveal", help="the member behind a pseudonym (admin; audited)")
    reveal.add_argument("id", help="a pseudonymous member id, pm_v<version>_...")
    reveal.add_argument("--json", action="store_true", help="print JSON")
    reveal.set_defaults(func=run(_reveal))
    keys = ident.add_parser("pseudonyms", help="the pseudonym key versions").add_subparsers(
        dest="pseudonyms_action", required=True, metavar="ACTION"
    )
    rotate = keys.add_parser("rotate", help="start a new key version (audited)")
    rotate.add_argument("--json", action="store_true", help="print JSON")
    rotate.set_defaults(func=run(_rotate))
    listing = keys.add_parser("list", help="key versions, the current one marked")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=run(_versions))


def fail(message: str) -> int:
    """Print an error; the exit status of a refused command."""
    print(f"error: {message}", file=sys.stderr)
    return 1
