"""`lrs identities erase MEMBER --yes [--json]` (see `projections.erasure`); MEMBER is the
member id or, for a pseudonymous member, their current pseudonym `pm_v...`. Without `--yes`
nothing is done (an erasure cannot be undone). Exit status: 0 erased; 2 refused or unknown
member, nothing written."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from lrs.errors import LRSError
from projections.pseudonyms import parse_pseudonym
from projections.service import Projection

Runner = Callable[[Callable[[Projection, argparse.Namespace], Any]], Any]


def register(ident: Any, run: Runner, json_flag: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the `erase` action."""
    erase = ident.add_parser(
        "erase", help="erase member MEMBER everywhere (statements by LRS_ERASURE_STATEMENTS)"
    )
    erase.add_argument("member_id", metavar="MEMBER", help="member id, or pseudonym pm_v...")
    erase.add_argument("--yes", action="store_true", help="confirm: an erasure cannot be undone")
    json_flag(erase)
    erase.set_defaults(func=run(_erase))


async def _erase(projection: Projection, args: argparse.Namespace) -> int:
    if not args.yes:
        print(
            f"error: erasing {args.member_id} cannot be undone; run again with --yes",
            file=sys.stderr,
        )
        return 2
    try:
        member_id = args.member_id
        if parse_pseudonym(member_id) is not None:  # a contractor or alumnus, as published
            member_id = await projection.member_behind(member_id)
        done = await projection.erasure.erase(member_id)
    except LRSError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    data = done.to_json()
    counts = ", ".join(f"{k} {v}" for k, v in data.items() if k not in ("erasure_id", "audit_seq"))
    text = (
        f"erased {args.member_id} (audit entry {data['audit_seq']}, "
        f"subject {data['erasure_id']}): {counts}"
    )
    print(json.dumps(data, indent=2) if args.json else text)
    return 0
