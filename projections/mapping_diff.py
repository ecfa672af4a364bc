"""What a new mapping would change, before it is deployed: `lrs mapping diff NEW.csv`.

The integration checklist validates a mapping in a sandbox before promoting it. This projects
the stored statements (all of them, or a seeded random `sample`) with the new mapping, beside
the records the current one made, and counts per field how many records would change, with a
few examples; it writes nothing. `mapping_version` and `provenance` are not compared: every
record carries the version, so counting it would say "everything changes".

How, with memory bounded by the pairs touched and the statements that move:
1. each statement considered (non-voided) gets its fact under the new mapping (members from
   the identity map as it is); with its stored fact that gives the (member, activity) pairs it
   counts in now and would count in: both are *touched*. A statement that would count in
   another pair than today (or in one it does not count in today) *enters* that pair;
2. for each touched pair, a chunk at a time: the statements of its stored facts are projected
   with the new mapping (those that would leave the pair drop out), the entering ones are
   added, the new record is folded and compared with the stored one, field by field.
With a sample, records are rebuilt from all of their statements, but only statements of the
sample can enter a pair: the counts are of the records the sample touches.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from lrs.model.statements import StatementFilter
from lrs.store.base import StatementStore
from lrs.xapi.timestamps import timestamp_us
from projections.aggregates import fold_for_member
from projections.facts import Projector
from projections.identity import IdentityResolver
from projections.store import ProjectionStores
from projections.store.base import Fact, Pair

_PAGE = 1000
_EXAMPLES = 3
IGNORED = ("mapping_version", "provenance")


@dataclass
class MappingDiff:
    """Records that would change, per field, with examples."""

    current_version: str
    new_version: str
    statements: int = 0
    records_compared: int = 0
    created: int = 0
    removed: int = 0
    changed: int = 0
    fields: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def note(self, pair: Pair, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        """Compare one pair's stored and would-be records."""
        self.records_compared += 1
        if old is None and new is None:
            return
        if old is None or new is None:
            kind = "created" if old is None else "removed"
            setattr(self, kind, getattr(self, kind) + 1)
            self._example(kind, pair, old, new)
            return
        names = sorted((set(old) | set(new)) - set(IGNORED))
        differing = [n for n in names if old.get(n) != new.get(n)]
        if differing:
            self.changed += 1
        for name in differing:
            self.fields[name] = self.fields.get(name, 0) + 1
            self._example(name, pair, old.get(name), new.get(name))

    def _example(self, key: str, pair: Pair, old: Any, new: Any) -> None:
        found = self.examples.setdefault(key, [])
        if len(found) < _EXAMPLES:
            member, activity = pair
            found.append({"member_id": member, "activity_id": activity, "from": old, "to": new})

    def to_json(self) -> dict[str, Any]:
        """The report for `--json`."""
        return {
            "current_version": self.current_version,
            "new_version": self.new_version,
            "statements": self.statements,
            "records_compared": self.records_compared,
            "records_created": self.created,
            "records_removed": self.removed,
            "records_changed": self.changed,
            "fields": dict(sorted(self.fields.items())),
            "examples": self.examples,
        }


class MappingDiffer:
    """Runs the comparison (see the module docstring); reads only."""

    def __init__(
        self,
        statements: StatementStore,
        stores: ProjectionStores,
        current: Projector,
        new: Projector,
        *,
        page: int = _PAGE,
    ) -> None:
        self._statements = statements
        self._stores = stores
        self._new = new
        self._resolver = IdentityResolver(stores.identities)
        self._page = page
        self._report = MappingDiff(current.mapping.version, new.mapping.version)
        self._touched: set[Pair] = set()
        self._entering: dict[Pair, list[Fact]] = {}

    async def diff(self, sample: int | None = None, seed: int = 1) -> MappingDiff:
        """Compare all statements, or a seeded sample of `sample` of them."""
        if sample is None:
            async for raws in self._pages():
                await self._consider(raws)
        else:
            for start in range(0, len(chosen := await self._sample(sample, seed)), self._page):
                await self._consider(chosen[start : start + self._page])
        pairs = sorted(self._touched)
        for start in range(0, len(pairs), self._page):
            await self._compare(pairs[start : start + self._page])
        return self._report

    async def _pages(self) -> Any:
        after = None
        while True:
            page = await self._statements.query_statements(
                StatementFilter(ascending=True, limit=self._page, after=after)
            )
            yield page.statements
            if page.next_position is None:
                return
            after = page.next_position

    async def _sample(self, size: int, seed: int) -> list[bytes]:
        """Reservoir sampling over every statement, reproducible by `seed`."""
        rng = random.Random(seed)
        chosen: list[bytes] = []
        seen = 0
        async for raws in self._pages():
            for raw in raws:
                seen += 1
                if len(chosen) < size:
                    chosen.append(raw)
                elif (slot := rng.randrange(seen)) < size:
                    chosen[slot] = raw
        return chosen

    async def _consider(self, raws: Sequence[bytes]) -> None:
        """Step 1 for a page of statements."""
        self._report.statements += len(raws)
        new = await self._new_facts(raws)
        stored = await self._stores.facts.get_facts(list(new))
        for statement_id, fact in new.items():
            old = stored.get(statement_id)
            old_pair = old.pair if old is not None and not old.voided else None
            new_pair = fact.pair if fact is not None else None
            self._touched.update(p for p in (old_pair, new_pair) if p is not None)
            if fact is not None and new_pair is not None and new_pair != old_pair:
                self._entering.setdefault(new_pair, []).append(fact)

    async def _new_facts(self, raws: Sequence[bytes]) -> dict[str, Fact | None]:
        """Each statement's fact under the new mapping (None: it would contribute nothing)."""
        contributions = {}
        for raw in raws:
            statement = orjson.loads(raw)
            stored_us = self._stored_us(statement)
            contributions[str(statement["id"]).lower()] = self._new.contribution(
                statement, stored_us
            )
        keys = [c.actor_key for c in contributions.values() if c is not None]
        members = await self._resolver.members_for(keys)
        return {
            sid: None if c is None else c.fact(members[c.actor_key], voided=False)
            for sid, c in contributions.items()
        }

    @staticmethod
    def _stored_us(statement: dict[str, Any]) -> int:
        return timestamp_us(statement["stored"], path="stored")

    async def _compare(self, pairs: Sequence[Pair]) -> None:
        """Step 2 for a chunk of touched pairs."""
        records = await self._stores.aggregates.get_records(pairs)
        facts = await self._stores.facts.facts_for_pairs(pairs)
        ids = sorted({f.statement_id for found in facts.values() for f in found})
        stored = await self._statements.get_statements(ids)
        raws = [s.raw for s in stored.values() if not s.voided]
        new = await self._new_facts(raws)
        members = await self._stores.identities.get_members(sorted({m for m, _a in pairs}))
        for pair in pairs:
            staying = [
                fact
                for f in facts.get(pair, [])
                if (fact := new.get(f.statement_id)) is not None and fact.pair == pair
            ]
            entering = self._entering.get(pair, [])
            mine = list({f.statement_id: f for f in staying + entering}.values())
            member_id, activity_id = pair
            record = fold_for_member(
                member_id, activity_id, mine, members.get(member_id), self._new.mapping.version
            )
            current = records.get(pair)
            self._report.note(pair, current.record if current else None, record)
