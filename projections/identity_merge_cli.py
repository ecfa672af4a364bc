"""`lrs identities merge FROM INTO --reason TEXT` and `lrs identities unmerge AUDIT_SEQ`
(see `projections.identity_merge`). Exit status: 0 done; 2 refused, nothing written."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from lrs.errors import LRSError
from projections.identity_merge import MergeResult
from projections.service import Projection

Runner = Callable[[Callable[[Projection, argparse.Namespace], Any]], Any]


def register(ident: Any, run: Runner, json_flag: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the `merge` and `unmerge` actions."""
    merge = ident.add_parser("merge", help="merge member FROM into member INTO (audited)")
    merge.add_argument("from_id", metavar="FROM")
    merge.add_argument("into_id", metavar="INTO")
    merge.add_argument("--reason", required=True, help="why (kept in the audit log)")
    json_flag(merge)
    merge.set_defaults(func=run(_merge))
    unmerge = ident.add_parser("unmerge", help="undo the merge audited as entry AUDIT_SEQ")
    unmerge.add_argument("seq", type=int, metavar="AUDIT_SEQ")
    unmerge.add_argument("--reason", help="why (kept in the audit log)")
    json_flag(unmerge)
    unmerge.set_defaults(func=run(_unmerge))


async def _merge(projection: Projection, args: argparse.Namespace) -> int:
    try:
        done = await projection.merges.merge(args.from_id, args.into_id, args.reason)
    except LRSError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return _report(done, args, "merged")


async def _unmerge(projection: Projection, args: argparse.Namespace) -> int:
    try:
        done = await projection.merges.unmerge(args.seq, args.reason)
    except LRSError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return _report(done, args, "unmerged")


def _report(done: MergeResult, args: argparse.Namespace, verb: str) -> int:
    data = done.to_json()
    text = (
        f"{verb} {data['from']} {'into' if verb == 'merged' else 'from'} {data['into']} "
        f"(audit entry {data['audit_seq']}); re-projected {done.reprojected} statements"
    )
    print(json.dumps(data, indent=2) if args.json else text)
    return 0
