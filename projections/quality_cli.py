"""`lrs quality list|show|retry|dismiss`: the data-quality queue (`projections.quality`).

    lrs quality list [--reason R] [--state S] [--limit N] [--json]
        without --reason: per reason, its count and a few examples; with it, its items
    lrs quality show ID [--json]            one item (ID as listed: `<reason>:<statement id>`)
    lrs quality retry [--reason R] [ID...]  project the items' statements again (after a
                                            mapping or identity change): items that map now
                                            are resolved
    lrs quality dismiss ID...               the item is fine as it is: it stays dismissed

Exit status: 0 done; 1 an item named does not exist (nothing changed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from projections.quality import (
    dismiss,
    grouped,
    item_view,
    open_statement_ids,
    retry,
    statements_of_items,
)
from projections.service import Projection
from projections.store.quality import OPEN, STATES
from projections.webhooks import wall_clock_us

Runner = Callable[[Callable[[Projection, argparse.Namespace], Any]], Any]


def register(
    commands: Any, run: Runner, json_flag: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add `lrs quality` and its actions."""
    quality = commands.add_parser("quality", help="the data-quality queue (what did not map)")
    sub = quality.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="counts and examples per reason, or one reason's items")
    listing.add_argument("--reason", help="list this reason's items")
    listing.add_argument("--state", choices=STATES, default=OPEN)
    listing.add_argument("--limit", type=int, default=100, help="items (or examples per reason)")
    json_flag(listing)
    listing.set_defaults(func=run(_list))
    show = sub.add_parser("show", help="one item")
    show.add_argument("id")
    json_flag(show)
    show.set_defaults(func=run(_show))
    again = sub.add_parser("retry", help="project the open items' statements again")
    again.add_argument("ids", nargs="*", help="item ids (default: every open item)")
    again.add_argument("--reason", help="only the open items of this reason")
    again.set_defaults(func=run(_retry))
    drop = sub.add_parser("dismiss", help="mark items as fine as they are")
    drop.add_argument("ids", nargs="+", help="item ids")
    drop.set_defaults(func=run(_dismiss))


async def _list(projection: Projection, args: argparse.Namespace) -> int:
    store = projection.stores.quality
    if args.reason is None:
        groups = await grouped(store, args.state, examples=min(args.limit, 10))
        lines = []
        for group in groups:
            lines.append(f"{group['reason']}: {group['count']}  ({group['description']})")
            lines += [f"  {_line(e)}" for e in group["examples"]]
        _print(args, groups, "\n".join(lines) or f"no {args.state} items")
        return 0
    items = await store.list_items(args.state, reason=args.reason, limit=args.limit)
    rows = [item_view(i) for i in items]
    _print(args, rows, "\n".join(_line(r) for r in rows) or f"no {args.state} items")
    return 0


def _line(item: dict[str, Any]) -> str:
    value = json.dumps(item["value"])
    value = value if len(value) <= 60 else value[:57] + "..."
    return f"{item['id']}  member {item['member_id'] or '-'}  {item['field']} = {value}"


async def _show(projection: Projection, args: argparse.Namespace) -> int:
    item = await projection.stores.quality.get_item(args.id)
    if item is None:
        print(f"error: no quality item {args.id}", file=sys.stderr)
        return 1
    view = item_view(item)
    _print(args, view, "\n".join(f"{k}: {json.dumps(v)}" for k, v in view.items()))
    return 0


async def _retry(projection: Projection, args: argparse.Namespace) -> int:
    store = projection.stores.quality
    if args.ids:
        ids, missing = await statements_of_items(store, args.ids)
        if missing:
            print(f"error: no quality item {', '.join(missing)}", file=sys.stderr)
            return 1
    else:
        ids = await open_statement_ids(store, args.reason)
    before = sum((await store.reason_counts(OPEN)).values())
    remaining = await retry(store, projection.worker.reapply, ids)
    await projection.stores.aggregates.publish_events()
    print(
        f"projected {len(ids)} statements again: {before - remaining} items resolved, "
        f"{remaining} open"
    )
    return 0


async def _dismiss(projection: Projection, args: argparse.Namespace) -> int:
    store = projection.stores.quality
    missing = [i for i in args.ids if await store.get_item(i) is None]
    if missing:
        print(f"error: no quality item {', '.join(missing)}", file=sys.stderr)
        return 1
    count = await dismiss(store, args.ids, wall_clock_us())
    print(f"dismissed {count} items")
    return 0


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)
