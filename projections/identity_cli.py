"""`lrs identities …`: the HRIS import, conflicts, LMS account links, unmatched statements.

lrs identities import FILE [--mode full|delta] [--columns MAP] [--dry-run] [--force]
                           [--rejects FILE] [--json]
lrs identities load FILE            the earlier command: `import --mode delta`
lrs identities conflicts [--json]   addresses / accounts two members claim
lrs identities resolve ADDRESS --member ID   (or --account HOMEPAGE NAME --member ID)
lrs identities link MEMBER --account HOMEPAGE NAME
lrs identities unmatched [--json]   held statements by what they wait on
lrs identities merge FROM INTO --reason TEXT / unmerge AUDIT_SEQ   (identity_merge_cli)
lrs identities erase MEMBER --yes [--json]                          (erasure_cli)

Import exit status: 0 everything imported; 1 the import was applied but needs a look: rows
were rejected, or it raised new conflicts (whose statements are held) or claims refused by an
earlier resolution; 2 nothing was written: the file cannot be read, an option is wrong, or a
full import would terminate too many members (see `LRS_IDENTITY_MAX_TERMINATE_SHARE`).
A conflict is a non-zero exit once, when it appears, so that a scheduled import alerts; the
same file again plans nothing and exits 0 while `lrs identities conflicts` keeps listing it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lrs.errors import LRSError
from lrs.importing import ImportCounts, Progress, RejectLog, csv_rejects_file
from lrs.importing.columns import ColumnsError, check_fields, parse_columns
from lrs.importing.files import ImportFileUnreadable, open_import_text
from lrs.importing.history import ImportRecord, save_run
from lrs.importing.reports import Rejections
from lrs.store.import_runs import IDENTITIES, ImportRun
from projections import erasure_cli, identity_merge_cli
from projections.identity_ops import conflict_json, describe_key, parse_key
from projections.identity_plan import Plan
from projections.identity_rows import (
    IMPORT_FIELDS,
    IdentityFileError,
    IdentityRow,
    RejectedRow,
    default_columns,
    read_rows,
)
from projections.service import Projection

IMPORT_DESCRIPTION = (
    "Import HRIS identities from FILE: CSV (header first) or NDJSON, gzip-compressed or not "
    f"(told by content). Fields: {', '.join(IMPORT_FIELDS)} (docs/marketplace.md#identity). "
    "Exit status: 0 imported; 1 imported, but rows were rejected, new conflicts were found or "
    "claims refused; 2 nothing written (unreadable file, bad option, too many terminations)."
)
Runner = Callable[[Callable[[Projection, argparse.Namespace], Any]], Any]


def register(ident: Any, run: Runner, json_flag: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the `identities` actions (`run` opens the projection, as every command does)."""
    for name, mode, text in (
        ("import", None, "import an HRIS file (CSV or NDJSON, gzip or not)"),
        ("load", "delta", "the same as `import --mode delta` (kept for scripts)"),
    ):
        parser = ident.add_parser(name, help=text, description=IMPORT_DESCRIPTION)
        parser.add_argument("file", type=Path, help="the HRIS file (see docs/marketplace.md)")
        if mode is None:
            _import_options(parser)
        json_flag(parser)
        parser.set_defaults(func=_checked(run(_import), mode))
    _register_operations(ident, run, json_flag)
    identity_merge_cli.register(ident, run, json_flag)
    erasure_cli.register(ident, run, json_flag)


def _import_options(parser: argparse.ArgumentParser) -> None:
    """The options `import` has and `load` (the earlier command) does not."""
    parser.add_argument(
        "--mode",
        choices=("delta", "full"),
        default="delta",
        help="full: members absent from the file are terminated",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="terminate even beyond LRS_IDENTITY_MAX_TERMINATE_SHARE",
    )
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing")
    parser.add_argument(
        "--columns", metavar="MAP", help="our=theirs pairs (employee_id=EmpID,...) or a JSON file"
    )
    parser.add_argument(
        "--rejects",
        type=Path,
        metavar="FILE",
        help="write rejected rows (line, employee_id, reason) as CSV",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress on stderr (default: on a terminal)",
    )


def _register_operations(
    ident: Any, run: Runner, json_flag: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add conflicts, resolve, link and unmatched."""
    conflicts = ident.add_parser("conflicts", help="addresses or accounts two members claim")
    json_flag(conflicts)
    conflicts.set_defaults(func=run(_conflicts))
    resolve = ident.add_parser("resolve", help="give a conflicting address to one member")
    resolve.add_argument("address", nargs="?", help="the email address in conflict")
    resolve.add_argument("--account", nargs=2, metavar=("HOMEPAGE", "NAME"))
    resolve.add_argument("--member", required=True, help="the member it belongs to")
    json_flag(resolve)
    resolve.set_defaults(func=run(_resolve))
    link = ident.add_parser("link", help="link an LMS account to a member")
    link.add_argument("member")
    link.add_argument("--account", nargs=2, metavar=("HOMEPAGE", "NAME"), required=True)
    json_flag(link)
    link.set_defaults(func=run(_link))
    unmatched = ident.add_parser("unmatched", help="held statements, by what they wait on")
    json_flag(unmatched)
    unmatched.set_defaults(func=run(_unmatched))


def _checked(command: Callable[..., int], mode: str | None) -> Callable[..., int]:
    """Refuse a missing file or a bad --columns before opening the store."""

    def check(args: argparse.Namespace, config: Any) -> int:
        if mode is not None:  # `load`
            args.mode, args.force, args.dry_run, args.columns = mode, False, False, None
            args.rejects, args.progress = None, None
        try:
            args.column_map = parse_columns(args.columns) if args.columns else {}
            check_fields(args.column_map, IMPORT_FIELDS)
            with open_import_text(args.file):
                pass
        except (ColumnsError, ImportFileUnreadable) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return command(args, config)

    return check


async def _import(projection: Projection, args: argparse.Namespace) -> int:
    record = ImportRecord(IDENTITIES, args.file.name)
    try:
        rows, present, counts = _read_file(projection, args, record.rejections)
    except FileProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    service = projection.identities
    try:
        plan = await service.plan(
            rows,
            full=args.mode == "full",
            present=present,
            max_share=projection.settings.identity_max_terminate_share,
            force=args.force,
        )
    except LRSError as exc:
        print(f"error: {exc.message}; nothing was written", file=sys.stderr)
        return 2
    moved = 0 if args.dry_run else await service.apply(plan)
    held = await projection.stores.facts.count_unmatched()
    if not args.dry_run:  # a dry run writes nothing, not even its record
        await save_run(projection.stores.import_runs, _finished(record, plan, counts))
    _report(args, plan, counts, moved, held)
    return 1 if counts.rejected or plan.conflicts or plan.refused else 0


def _finished(record: ImportRecord, plan: Plan, counts: ImportCounts) -> ImportRun:
    """The run for the import history: rows taken and refused, what they changed."""
    return record.finish(
        accepted=counts.new,
        present=0,
        rejected=counts.rejected,
        details={
            "hires": len(plan.hires),
            "changes": len(plan.changes),
            "terminations": len(plan.terminations),
            "conflicts": len(plan.conflicts),
        },
    )


class FileProblem(Exception):
    """The identity file (or the rejects file) cannot be read (written) as a whole."""


def _read_file(
    projection: Projection, args: argparse.Namespace, keep: Rejections
) -> tuple[list[IdentityRow], set[str], ImportCounts]:
    """Read the whole file, reporting rejects and progress; FileProblem names what failed."""
    enabled = sys.stderr.isatty() if args.progress is None else args.progress
    try:
        with (
            csv_rejects_file(args.rejects, ("line", "employee_id")) as rejects,
            open_import_text(args.file) as opened,
        ):
            progress = Progress(opened.total_bytes, enabled=enabled)
            try:
                log = RejectLog(rejects, progress, keep)
                return _read(projection, args, opened, progress, log)
            finally:
                progress.finish()
    except UnicodeDecodeError:
        raise FileProblem(f"{args.file}: not UTF-8 text") from None
    except (IdentityFileError, csv.Error, EOFError, ImportFileUnreadable) as exc:
        raise FileProblem(f"{args.file}: {exc}") from None
    except OSError as exc:  # a broken gzip stream, an unwritable rejects file
        raise FileProblem(f"{exc.filename or args.file}: {exc.strerror or exc}") from None


def _read(
    projection: Projection,
    args: argparse.Namespace,
    opened: Any,
    progress: Progress,
    log: RejectLog,
) -> tuple[list[IdentityRow], set[str], ImportCounts]:
    """The file's rows (a member listed twice: the later row rejected); ids seen, counts."""
    columns = {**default_columns(projection.projector.mapping), **args.column_map}
    rows: dict[str, IdentityRow] = {}
    present: set[str] = set()
    counts = ImportCounts()
    for outcome in read_rows(opened.text, columns, projection.settings.domain_aliases):
        if isinstance(outcome, IdentityRow) and outcome.member_id in rows:
            first = rows[outcome.member_id].line
            outcome = RejectedRow(
                outcome.line, f"member listed twice (line {first})", outcome.member_id
            )
        if isinstance(outcome, RejectedRow):
            counts.rejected += 1
            log.reject(outcome, outcome.reason)
            if outcome.member_id:  # never terminated for a row the file has, even a bad one
                present.add(outcome.member_id)
        else:
            counts.new += 1
            rows[outcome.member_id] = outcome
            present.add(outcome.member_id)
        progress.update(opened.bytes_read(), counts)
    return list(rows.values()), present, counts


def plan_json(plan: Plan) -> dict[str, Any]:
    """The plan as --json gives it."""
    return {
        "hires": [m.member_id for m in plan.hires],
        "changes": [a.member_id for _b, a in plan.changes],
        "terminations": [m.member_id for m in plan.terminations],
        "unchanged": plan.unchanged,
        "stale": plan.stale,
        "conflicts": [conflict_json(c) for c in plan.conflicts],
        "refused": [r.__dict__ for r in plan.refused],
        "written": plan.change_count,
    }


def _report(
    args: argparse.Namespace, plan: Plan, counts: ImportCounts, moved: int, held: int
) -> None:
    data = {
        "mode": args.mode,
        "dry_run": args.dry_run,
        "rows": counts.new,
        "rejected": counts.rejected,
        **plan_json(plan),
        "statements_reprojected": moved,
        "statements_unmatched": held,
    }
    if args.json:
        print(json.dumps(data, indent=2))
        return
    verb = "would write" if args.dry_run else "wrote"
    lines = [
        f"{counts.new} rows, {counts.rejected} rejected: {len(plan.hires)} hires, "
        f"{len(plan.changes)} changes, {len(plan.terminations)} terminations, "
        f"{plan.unchanged} unchanged, {len(plan.stale)} stale; {verb} {plan.change_count} changes"
    ]
    if args.dry_run:
        lines += _listed("hire", [m.member_id for m in plan.hires])
        lines += _listed("change", [a.member_id for _b, a in plan.changes])
        lines += _listed("terminate", [m.member_id for m in plan.terminations])
    for c in plan.conflicts:
        lines.append(f"conflict: {describe_key(c.key)} claimed by {', '.join(c.claimants)}")
    for r in plan.refused:
        lines.append(
            f"refused: {describe_key(r.key)} for {r.member_id} "
            f"(resolved for {r.resolved_for} earlier)"
        )
    if plan.conflicts:
        lines.append("held until resolved: lrs identities resolve ADDRESS --member ID")
    if args.dry_run:
        lines.append("dry run: nothing was written")
    else:
        lines.append(f"re-projected {moved} statements; {held} still unmatched")
    print("\n".join(lines))


def _listed(verb: str, member_ids: list[str], shown: int = 20) -> list[str]:
    """The first `shown` ids, one a line, and how many more (`--json` has them all)."""
    lines = [f"  {verb} {m}" for m in member_ids[:shown]]
    if len(member_ids) > shown:
        lines.append(f"  ... and {len(member_ids) - shown} more to {verb} (--json lists all)")
    return lines


async def _conflicts(projection: Projection, args: argparse.Namespace) -> int:
    conflicts = await projection.identities.conflicts()
    rows = [conflict_json(c) for c in conflicts]
    text = "\n".join(f"{describe_key(c.key)}  {' '.join(c.claimants)}" for c in conflicts)
    print(json.dumps(rows, indent=2) if args.json else text or "no conflicts")
    return 0


async def _resolve(projection: Projection, args: argparse.Namespace) -> int:
    try:
        key = parse_key(args.address, args.account, projection.settings.domain_aliases)
        dropped, moved = await projection.identities.resolve(key, args.member)
    except LRSError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    data = {"key": key, "member": args.member, "dropped": dropped, "statements_reprojected": moved}
    text = (
        f"{describe_key(key)} is {args.member}'s (claim of {', '.join(dropped)} dropped); "
        f"re-projected {moved} statements"
    )
    print(json.dumps(data, indent=2) if args.json else text)
    return 0


async def _link(projection: Projection, args: argparse.Namespace) -> int:
    home, name = args.account
    try:
        linked, moved = await projection.identities.link(args.member, home, name)
    except LRSError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    data = {"member": args.member, "linked": linked, "statements_reprojected": moved}
    text = (
        f"linked {home} {name} to {args.member}; re-projected {moved} statements"
        if linked
        else f"{home} {name} was already linked to {args.member}"
    )
    print(json.dumps(data, indent=2) if args.json else text)
    return 0


async def _unmatched(projection: Projection, args: argparse.Namespace) -> int:
    report = await projection.identities.unmatched()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return 0
    kinds = ", ".join(f"{k} {n}" for k, n in report.by_kind.items())
    lines = [f"{report.total} statements unmatched ({kinds})"]
    lines += [
        f"  home page {h['home_page']}: {h['accounts']} accounts, {h['statements']} "
        "statements (lrs identities link MEMBER --account HOMEPAGE NAME)"
        for h in report.accounts_by_home_page
    ]
    lines += [f"  address {e['address']}: {e['statements']}" for e in report.emails[:20]]
    lines += [
        f"  employee id {h['employee_id']} (not in the HRIS): {h['statements']}"
        for h in report.hris_ids[:20]
    ]
    print("\n".join(lines))
    return 0
