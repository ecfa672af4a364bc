"""`lrs audit`: read the audit log and verify its hash chain.

lrs audit [--since ISO] [--type TYPE] [--limit N] [--json]    entries, newest first
lrs audit verify [--expect-head SEQ:HASH] [--json]            exit 1 naming the first broken entry
lrs marketplace audit [--limit N] [--json]                    the same listing (older name)

Times are printed in ISO 8601 (UTC). `projections.cli` registers these with its `run` wrapper
(which opens the projection), passed in to keep this module free of the other commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from lrs.cli_support import positive_int
from lrs.errors import ValidationError
from lrs.xapi.timestamps import timestamp_us
from projections.audit import ChainReport, entry_json
from projections.service import Projection

Job = Callable[[Projection, argparse.Namespace], Awaitable[int]]
Run = Callable[[Job], Callable[..., int]]


def _since(text: str) -> int:
    """An argparse type: an ISO 8601 time as epoch microseconds."""
    try:
        return timestamp_us(text, path="--since")
    except ValidationError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None


def _head(text: str) -> tuple[int, str]:
    """An argparse type: SEQ:HASH, as `lrs audit verify` prints the head."""
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise argparse.ArgumentTypeError("expected SEQ:HASH (as `lrs audit verify` prints it)")
    return int(seq), digest.lower()


def _line(entry: dict[str, Any]) -> str:
    details = json.dumps(entry["details"], sort_keys=True) if entry["details"] else ""
    return (
        f"{entry['seq']:>6}  {entry['at']}  {entry['type']:20} {entry['actor']:24} "
        f"{entry['subject']}  {details}".rstrip()
    )


async def audit_list(projection: Projection, args: argparse.Namespace) -> int:
    """Print entries newest first."""
    if getattr(args, "alias", False):
        print("note: `lrs marketplace audit` is now `lrs audit`", file=sys.stderr)
    records = await projection.audit.entries(
        limit=args.limit, since_us=getattr(args, "since", None), type=getattr(args, "type", None)
    )
    rows = [entry_json(r) for r in records]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print("\n".join(_line(r) for r in rows) or "no audit entries")
    return 0


def report_json(report: ChainReport) -> dict[str, Any]:
    """The verification report as `--json` prints it."""
    broken = report.broken
    return {
        "intact": report.intact,
        "entries_checked": report.entries,
        "entries_erased": report.erased,
        "head": {"seq": report.head_seq, "hash": report.head_hash},
        "first_broken": None if broken is None else {"seq": broken.seq, "problem": broken.problem},
    }


async def audit_verify(projection: Projection, args: argparse.Namespace) -> int:
    """Walk the chain; exit 1 naming the first entry changed, deleted or reordered."""
    report = await projection.audit.verify(expect_head=args.expect_head)
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    elif report.broken is not None:
        print(
            f"audit log broken at entry {report.broken.seq}: {report.broken.problem} "
            f"({report.entries} entries before it are intact)",
            file=sys.stderr,
        )
    else:
        erased = f" ({report.erased} with personal data erased)" if report.erased else ""
        print(
            f"audit log intact: {report.entries} entries{erased}; "
            f"head {report.head_seq}:{report.head_hash} (keep it to check against later)"
        )
    return 0 if report.intact else 1


def _listing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=positive_int, default=50, help="at most N (default 50)")
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")


def register_audit(commands: Any, run: Run) -> None:
    """Add `lrs audit` (and `lrs audit verify`)."""
    audit = commands.add_parser(
        "audit", help="the audit log (identity, client, token, key events), newest first"
    )
    audit.add_argument("--since", type=_since, help="entries at or after this ISO 8601 time")
    audit.add_argument("--type", help="only entries of this type (e.g. client.created)")
    _listing_options(audit)
    audit.set_defaults(func=run(audit_list))
    sub = audit.add_subparsers(dest="audit_action", metavar="ACTION")
    verify = sub.add_parser("verify", help="check the hash chain; exit 1 at the first break")
    verify.add_argument(
        "--expect-head", type=_head, help="SEQ:HASH a previous verify printed (catches cut-offs)"
    )
    verify.add_argument("--json", action="store_true", help="print JSON, for scripts")
    verify.set_defaults(func=run(audit_verify))


def register_marketplace_alias(marketplace: Any, run: Run) -> None:
    """`lrs marketplace audit`: the listing under its earlier name."""
    alias = marketplace.add_parser("audit", help="the audit log (now `lrs audit`)")
    _listing_options(alias)
    alias.set_defaults(func=run(audit_list), alias=True)
