"""Erasing a person's statements in MongoDB, one bounded page at a time, without transactions.

The statements that answer to the person are found through `idx.related_agents` (its index),
never by a scan of `raw`. Each statement is one single-document write (no transaction):
rewritten (`rewrite`) with its index arrays moved from the person's keys to the pseudonym's,
or deleted; statements that only inherit the person's keys (a StatementRef to one of theirs)
keep their JSON and have those keys moved (dropped when deleting). A written statement no
longer matches, so an interrupted erasure finishes when run again, and a write lost in a crash
is found and repeated by the next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bson import Binary
from motor.motor_asyncio import AsyncIOMotorCollection

from lrs.model.erasure import ErasedPage, StatementRewrite
from lrs.model.statements import INDEX_KINDS
from lrs.store.engine.mongo import translate_errors
from lrs.store.mongo_query import kind_index, stored_order


async def erase_agent_page(
    docs: AsyncIOMotorCollection[Any],
    keys: Sequence[str],
    rewrite: StatementRewrite,
    *,
    replacement: str | None,
    delete: bool,
    limit: int,
) -> ErasedPage:
    """One page of erasure (see the module docstring); `done` once nothing is left.

    Every agent key, whatever its other kinds (a StatementRef target's included), is under
    `related_agents`, so that one index finds them all, in stored order, `limit` at a time."""
    wanted = list(dict.fromkeys(keys))
    query = {"idx.related_agents": {"$in": wanted}}
    with translate_errors("find statements to erase"):
        cursor = (
            docs.find(query, {"raw": 1, "idx": 1})
            .sort(stored_order())
            .hint(kind_index("related_agents"))
            .limit(limit)
        )
        found = await cursor.to_list(limit)
    if not found:
        return ErasedPage(done=True)
    new_key = None if delete else replacement
    rewritten = deleted = 0
    with translate_errors("erase statements"):
        for doc in found:
            new_raw = rewrite(bytes(doc["raw"]))
            if new_raw is not None and delete:
                await docs.delete_one({"_id": doc["_id"]})
                deleted += 1
                continue
            changes: dict[str, Any] = {"idx": _remapped(doc.get("idx") or {}, wanted, new_key)}
            if new_raw is not None:
                changes["raw"] = Binary(new_raw)
                rewritten += 1
            await docs.update_one({"_id": doc["_id"]}, {"$set": changes})
    unlinked = len(found) - rewritten - deleted
    return ErasedPage(pseudonymised=rewritten, deleted=deleted, unlinked=unlinked, done=False)


def _remapped(
    idx: dict[str, list[str]], old: Sequence[str], new_key: str | None
) -> dict[str, list[str]]:
    """The index arrays with the old keys replaced by `new_key` (dropped when None)."""
    out: dict[str, list[str]] = {}
    for kind in INDEX_KINDS:
        keys = idx.get(kind)
        if not keys:
            continue
        mapped = [(new_key if key in old else key) for key in keys]
        kept = list(dict.fromkeys(key for key in mapped if key is not None))
        if kept:
            out[kind] = kept
    return out
