"""The projection worker: statements → facts → recomputed marketplace records (+ events).

One batch (`run_once`):
1. a slice at a time (`_SLICE` statements): list statements awaiting projection and lease
   them (`WorkStore.claim`; another worker's unexpired lease is skipped, an expired one
   taken over), then store each one's fact (its contribution, with its member or none yet)
   and mark the targets of voiding statements voided; their data-quality items are held for
   the batch (`projections.quality.HeldNotes`);
2. once every slice is written, write the batch's data-quality items in one write, then
   recompute every (member, activity) the batch touched;
3. only then mark the statements projected (the checkpoint), note progress, drop the leases.

Each step works on many statements at once: a slice's facts go in one write, and the touched
records are recomputed a chunk of pairs at a time (their records read, then their facts and
members, each folded, all saved in one `save_records`; a share of a large chunk is read and
folded by the mapping child, `_facts_or_folded`), so a batch costs a few round trips (on
SQLite, a few commits) per slice, not a few per statement. Why slices: a record is rebuilt
from all of its facts whenever a batch touches it, so the larger the batch, the fewer times
each record is rebuilt while a backlog drains; but only a slice's statements are held in
memory (a batch keeps their ids, the pairs touched and what changed each, and their
data-quality items: about one per statement of an unknown learner). A batch that takes
more than half the lease leases its statements again (`_renew_leases`).

Why nothing is lost or counted twice: a fact is keyed by its statement id and derived from the
immutable statement, so applying a statement again writes the same fact; a record is rebuilt
from all of its pair's facts, never incremented. A worker that dies before step 3 leaves its
statements awaiting; once its leases expire another worker applies them again, harmlessly.
`voided` only goes from false to true, whatever order a voiding statement and its target are
applied in (a voiding statement met first leaves a tombstone that the target's fact inherits).

Why concurrent workers converge: a record is saved by compare-and-set on its `rev`, after the
worker has written its facts, read the rev, then read the facts. The last successful save
therefore read every fact written before any earlier successful save; a worker whose save
loses re-reads and retries. Saves always move the rev, even when the content is unchanged.
In a chunk each record is its own compare-and-set: only the pairs whose save lost are read,
folded and saved again.

Change events name a member by the id the marketplace may see (`projections.pseudonyms`:
a pseudonym for some worker types), read with the chunk's members, so it costs no round trip.

Unmatched statements keep their fact without a member. When the identity map changes (its
version moves), the worker re-resolves the unmatched facts and projects those that now match.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple, cast

from lrs.errors import LRSError, StoreUnavailable
from lrs.model.statements import StoredStatement
from lrs.store.base import StatementStore
from projections.aggregates import Cause, change_causes, change_event, fold_for_member
from projections.collection import collection_paused
from projections.facts import Assessment, Contribution, Projector
from projections.identity import IdentityResolver, matching_keys
from projections.mapping_process import StatementMapper
from projections.member_events import member_events
from projections.provisioning import Provisioner
from projections.pseudonyms import Disclosure
from projections.quality import HeldNotes, QualityRecorder
from projections.store import ProjectionStores
from projections.store.base import Fact, Member, Pair, RecordSave, StoredRecord
from projections.store.quality import QualityIssue
from projections.together import together
from projections.transforms import format_datetime
from projections.wakeup import Wakeup, pause

log = logging.getLogger(__name__)

_MAX_CLAIM_PAGES = 20
_MAX_SAVE_ATTEMPTS = 50
_UNMATCHED_PAGE = 500
_REMEMBERED_ACTORS = 200_000  # actor keys whose member is kept (`IdentityResolver`)
_RECOMPUTE_CHUNK = 1000  # pairs read, folded and saved together
# statements of a batch claimed, mapped and written at a time. 20000, not 5000: each slice has
# fixed costs (its store round trips, its commit, the hand-offs between the writer, the readers,
# the mapping child and the event loop), and in a large store a commit writes every index page
# its facts dirtied, so more facts a commit share more pages. Alternate drains
# (docs/performance.md): 10000 drained a 100,000 backlog 5.7% faster than 5000; 20000 drained a
# 1,000,000 backlog 15% faster than 10000 (100,000: no change) for about 170 MB more; 40000
# no faster than 20000 for 400 MB more
_SLICE = 20000
# A chunk of this many pairs or more (a backlog's) is folded in part by the mapping child, when
# one runs (a backlog's large slices started it: `StatementMapper.fold`), which reads those
# pairs' facts itself (SQLite: `FactStore.reader`), beside this process reading and folding the
# rest: this process is held to about one core by the interpreter lock, and the child is idle
# while records are rebuilt. The child's share: it folds more slowly than this process (it also
# reads the facts: about 5 µs a fact in SQLite alone). Alternate drains of a 1,000,000 backlog
# (docs/performance.md), with the three chunks in hand of `recompute`: the rebuilds 33.2 / 34.2 s
# against 38.8 / 39.1 s folding all here.
_LEAST_TO_FOLD_THERE = 500
_FOLDED_THERE = 0.55
_NOT_FOLDED = object()  # `_save`: no record folded by the child, fold the facts
_AHEAD = 2  # slices claimed (and mapping) ahead of the one being written
# The pause after a batch that was not full: as long as the batch took, from 20 to 100 ms. A
# batch has a fixed cost (claim, checkpoint, release) about that of projecting a statement,
# so a burst of commits, each waking the worker, is taken in batches of what arrived
# meanwhile, not one by one; and a worker slowed down (a busy host) batches more.
GATHER_S = (0.02, 0.1)


def wall_clock_us() -> int:
    """Now, in microseconds since the epoch."""
    return time.time_ns() // 1000


class ProjectionWorker:
    """Claims, applies and checkpoints statements; recomputes records. See the module doc."""

    def __init__(
        self,
        statements: StatementStore,
        stores: ProjectionStores,
        projector: Projector,
        *,
        batch: int = 1_000_000,
        lease_s: float = 60.0,
        owner: str | None = None,
        clock: Callable[[], int] = wall_clock_us,
        disclosure: Disclosure | None = None,
        provisioner: Provisioner | None = None,
        mapper: StatementMapper | None = None,
    ) -> None:
        self.owner = owner or f"worker-{uuid.uuid4().hex[:12]}"
        self._statements = statements
        self._stores = stores
        self._projector = projector
        self._resolver = IdentityResolver(stores.identities, remember=_REMEMBERED_ACTORS)
        self._batch = batch
        self._lease_us = int(lease_s * 1_000_000)
        self._clock = clock
        self._identity_seen: int | None = None
        self._disclosure = disclosure  # the member ids events carry (pseudonyms)
        self._provisioner = provisioner  # None: unknown learners are held
        self._mapper = mapper or StatementMapper(projector, processes=0)
        self._quality = QualityRecorder(
            stores.quality, stores.identities, lambda: projector.mapping.version, clock
        )

    async def run_once(self) -> int:
        """Claim and apply one batch; how many statements it applied (0: nothing to do).

        The cyclic garbage collector is paused meanwhile (`projections.collection`)."""
        with collection_paused():
            return await self._run_batch()

    async def _run_batch(self) -> int:
        """One batch: its statements claimed and their facts written a slice at a time
        (`_SLICE`: what is held in memory at once), then every record they touch rebuilt
        once, then the checkpoint."""
        await self._follow_identity_changes()
        batch = _Batch(self._clock())
        await self._write_slices(batch)
        if not batch.ids:
            return 0
        await self._renew_leases(batch)
        # The slices' data-quality items (`HeldNotes`), before the rebuilds, not beside them:
        # the writer would hold the rebuilds' saves back for the whole write, and that write,
        # a row at a time beside an event loop busy folding records, took longer (alternate
        # drains: the rebuilds +5 s, where the write alone takes 1-1.5 s).
        await self._quality.write(batch.quality)
        await self.recompute(batch.touched, causes=batch.causes)
        # Together: on SQLite one group commit. Should a lease go before its checkpoint (on
        # MongoDB), another worker may apply the statements again: harmless, only wasted.
        await asyncio.gather(
            self._statements.mark_projected(batch.ids),
            self._stores.work.note_applied(batch.newest_us, len(batch.ids)),
            self._stores.work.release(batch.ids, self.owner),
        )
        await self._stores.aggregates.publish_events()
        return len(batch.ids)

    async def _write_slices(self, batch: _Batch) -> None:
        """Claim, map and write the batch's facts a slice at a time, pipelined: slices are
        claimed (`_claim_ahead`) while those before them are mapped (in the mapping child when
        full) and written, up to `_AHEAD` slices ahead, so the store's threads, the interpreter
        and the child work at once."""
        ready: asyncio.Queue[_Slice | None] = asyncio.Queue()
        room = asyncio.Semaphore(_AHEAD)
        claiming = asyncio.ensure_future(self._claim_ahead(ready, room))
        waiting: list[asyncio.Future[Any]] = [claiming]
        try:
            while (claimed := await ready.get()) is not None:
                room.release()
                statements, mapping = claimed
                waiting.append(mapping)
                self._mapper.needed(waited=not mapping.done(), claimed=len(statements))
                assessments = await mapping
                # done: kept, its result (the slice's assessments) would live as long as the
                # batch, and a batch's memory would grow with its size, not with a slice
                waiting.remove(mapping)
                written = await self._write_facts(
                    statements, assessments=assessments, notes=batch.quality
                )
                batch.add(statements, *written)
                await self._renew_leases(batch)
            await claiming  # raises what stopped the claims, if anything did
        finally:  # a failure or a cancellation: what was claimed ahead lapses with its leases
            while not ready.empty():
                if (left := ready.get_nowait()) is not None:
                    waiting.append(left.mapping)
            for future in waiting:
                future.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)

    async def _claim_ahead(
        self, ready: asyncio.Queue[_Slice | None], room: asyncio.Semaphore
    ) -> None:
        """The claim stage of `_write_slices`: lease slices one after the other, start each
        one's mapping and hand it on (waiting, by `room`, while `_AHEAD` are handed on and not
        yet taken), until the batch is full or nothing more awaits; None ends the hand-over.
        Should a claim fail, the hand-over still ends and the failure is raised to
        `_write_slices`."""
        after: str | None = None
        claimed = 0
        try:
            while claimed < self._batch:
                await room.acquire()
                statements, after = await self._claim(after, min(_SLICE, self._batch - claimed))
                if not statements:
                    break
                claimed += len(statements)
                mapping = asyncio.ensure_future(self._mapped(statements))
                ready.put_nowait(_Slice(statements, mapping))
                if after is None:
                    break
        finally:
            ready.put_nowait(None)

    async def _mapped(self, statements: Sequence[StoredStatement]) -> list[Assessment | None]:
        """The slice's assessments in its order: None for a voiding statement (it maps
        nothing), the others mapped (`StatementMapper`: the child takes a backlog's slices)."""
        plain = [s for s in statements if s.voids is None]
        mapped = iter(await self._mapper.assess(plain, claimed=len(statements)))
        return [None if s.voids else next(mapped) for s in statements]

    def _assess(self, statements: Sequence[StoredStatement]) -> list[Assessment | None]:
        """Each statement's assessment; None for a voiding statement (it maps nothing)."""
        assess = self._projector.stored_assessment
        return [assess(s) if s.voids is None else None for s in statements]

    async def drain(self, max_batches: int = 10_000) -> int:
        """Run batches until none is left; the statements applied. A mapping child started
        meanwhile (`projections.mapping_process`) is stopped at the end."""
        total = 0
        try:
            for _ in range(max_batches):
                applied = await self.run_once()
                if applied == 0:
                    return total
                total += applied
            return total
        finally:
            self._mapper.close()

    async def run(
        self,
        stop: asyncio.Event,
        poll_s: float = 1.0,
        *,
        wake: Wakeup | None = None,
        on_applied: Callable[[], None] | None = None,
    ) -> None:
        """Run until `stop` is set, pausing up to `poll_s` whenever there is nothing to do.

        `wake` ends a pause early (set when statements commit in this process, see
        `projections.wakeup`), but a batch that was not full is followed by a pause
        (`GATHER_S`);
        `on_applied` is called after each batch that applied statements (it wakes the webhook
        dispatcher: the batch's events are in the outbox).
        """
        wake = wake or Wakeup()
        try:
            while not stop.is_set():
                wake.clear()
                started = time.monotonic()
                applied = await self._run_logged()
                if applied and on_applied is not None:
                    on_applied()
                if applied == 0:
                    await wake.wait(stop, poll_s)
                elif applied < self._batch:  # what commits meanwhile makes one batch, not many
                    least, most = GATHER_S
                    await pause(stop, min(most, max(least, time.monotonic() - started)))
        finally:
            self._mapper.close()

    async def _run_logged(self) -> int:
        """One batch of `run`: a failure is logged, not raised (the next round retries)."""
        try:
            return await self.run_once()
        except LRSError as error:
            log.warning("projection batch failed, retrying: %s", error.message)
        except Exception:  # a bug must not stop projection silently: log, go on
            log.exception("projection batch failed unexpectedly, retrying")
        return 0

    async def _renew_leases(self, batch: _Batch) -> None:
        """Once half the lease has passed since the batch's first claim, lease its statements
        again: a large batch must not lose them to another worker before its checkpoint (were
        it to, the other worker would apply them again: harmless, but wasted)."""
        now = self._clock()
        if batch.ids and now - batch.leased_us > self._lease_us // 2:
            await self._stores.work.claim(batch.ids, self.owner, now, self._lease_us)
            batch.leased_us = now

    async def _claim(
        self, after: str | None, limit: int
    ) -> tuple[list[StoredStatement], str | None]:
        """Lease up to `limit` of the statements awaiting after `after`: (those leased, where
        the next ones start: None when none awaits past the last page read)."""
        for _ in range(_MAX_CLAIM_PAGES):
            page = await self._statements.awaiting_projection(limit, after)
            if not page.statements:
                return [], None
            ids = [s.id for s in page.statements]
            mine = await self._stores.work.claim(ids, self.owner, self._clock(), self._lease_us)
            if mine:
                return [s for s in page.statements if s.id in mine], page.next_position
            if page.next_position is None:
                return [], None
            after = page.next_position
        return [], None

    async def apply(
        self, statements: Sequence[StoredStatement], *, settle: bool = False
    ) -> set[Pair]:
        """Write the statements' facts and void their targets; recompute what they touch.

        What could not be mapped goes to the data-quality queue (one write for the batch);
        `settle` (statements projected before) also resolves their items that now map.
        """
        touched, causes = await self._write_facts(statements, settle=settle)
        await self.recompute(touched, causes=causes)
        return touched

    async def _write_facts(
        self,
        statements: Sequence[StoredStatement],
        *,
        settle: bool = False,
        assessments: Sequence[Assessment | None] | None = None,
        notes: HeldNotes | None = None,
    ) -> tuple[set[Pair], dict[Pair, Cause]]:
        """`apply` but the recompute: the pairs the statements touch and what changed each.
        `assessments`: the statements' (`_assess`), when they are already mapped; `notes`:
        where the data-quality items go to be written later (a batch's), else written now."""
        contributions = []
        issues = []
        others: dict[str, str] = {}  # statement id → actor key, of issues without contribution
        if assessments is None:
            assessments = self._assess(statements)
        for stored, assessment in zip(statements, assessments, strict=True):
            if assessment is not None:
                if assessment.contribution is not None:
                    contributions.append((stored, assessment.contribution))
                elif assessment.actor_key is not None:
                    others[stored.id] = assessment.actor_key
                if assessment.issues and not stored.voided:
                    issues.extend(assessment.issues)
        keys = [c.actor_key for _s, c in contributions]
        members = await self._members_for(keys + list(others.values()) if others else keys)
        facts = [c.fact(members[c.actor_key], s.voided) for s, c in contributions]
        voiding = {s.voids: s.stored_us for s in statements if s.voids is not None}
        # The queue and the facts are apart: their writes go at once (on SQLite, often in
        # one group commit).
        _noted, (before, voided) = await together(
            self._note_quality(statements, issues, contributions, members, settle, others, notes),
            # the facts as they were, read in the write (`replace_facts`), and those voided
            self._stores.facts.replace_facts(facts, list(voiding)),
        )
        touched = _pairs(before.values()) | _pairs(facts) | _pairs(voided)
        voided_at = None if settle else voiding  # applied again: not newly stored
        return touched, change_causes(facts, before, voided, voided_at=voided_at)

    async def _note_quality(
        self,
        statements: Sequence[StoredStatement],
        issues: Sequence[QualityIssue],
        contributions: Sequence[tuple[StoredStatement, Contribution]],
        members: dict[str, str | None],
        settle: bool,
        others: dict[str, str],
        notes: HeldNotes | None,
    ) -> None:
        """The batch's data-quality issues and held actors to the queue at once (or to
        `notes`, written with the batch's other slices'); the items of statements applied
        again (`settle`) or voided now are resolved unless still found."""
        settled = [s.id for s in statements] if settle else []
        settled += [s.voids for s in statements if s.voids is not None]
        if not issues and not settled and all(members.values()):
            return
        by_statement = {c.statement_id: members[c.actor_key] for _s, c in contributions}
        by_statement.update((sid, members[key]) for sid, key in others.items())
        held = [c for s, c in contributions if members[c.actor_key] is None and not s.voided]
        if notes is None:
            await self._quality.note(settled, issues, held, by_statement)
        else:
            await self._quality.hold(notes, settled, issues, held, by_statement)

    async def _members_for(self, keys: Sequence[str]) -> dict[str, str | None]:
        """Member of each actor key; under `LRS_UNKNOWN_LEARNERS=provision` unclaimed
        addresses and accounts get a provisional member (`projections.provisioning`)."""
        members = await self._resolver.members_for(keys)
        unmatched = [k for k, m in members.items() if m is None]
        if self._provisioner is not None and unmatched:
            now = format_datetime(self._clock())
            members.update(await self._provisioner.provision(unmatched, now))
        return members

    async def reapply(self, ids: Sequence[str], *, extra_pairs: Iterable[Pair] = ()) -> None:
        """Apply these statements again as stored now (for `reconcile --fix`).

        Facts of statements that are gone or contribute nothing any more are deleted; the
        rest are rewritten; every pair they were or are in, and `extra_pairs`, is recomputed.
        """
        stored = await self._statements.get_statements(ids)
        current = await self._stores.facts.get_facts(ids)
        dropped = [
            i
            for i in ids
            if i not in stored
            or (stored[i].voids is None and self._projector.stored_contribution(stored[i]) is None)
        ]
        await self._stores.facts.delete_facts(dropped)
        done = await self.apply([stored[i] for i in ids if i in stored], settle=True)
        await self.recompute((set(extra_pairs) | _pairs(current.values())) - done)

    async def recompute(
        self, pairs: Iterable[Pair], *, causes: Mapping[Pair, Cause] | None = None
    ) -> None:
        """Rebuild each pair's record from its facts and save it (compare-and-set).

        A chunk of pairs at a time: read their records, then their facts and members, fold,
        and save them together; only the pairs whose save lost are read and folded again.
        Three chunks are in hand at once: one read (by the readers) while the one before it
        is folded (by the interpreter) and the one before that saved (by the writer), so
        none of the three waits for the others' work. `causes`: the statements behind each
        pair's change (verbs, stored time), carried by its event.
        """
        causes = causes or {}
        ordered = sorted(set(pairs))
        chunks = [
            ordered[start : start + _RECOMPUTE_CHUNK]
            for start in range(0, len(ordered), _RECOMPUTE_CHUNK)
        ]
        ahead: asyncio.Future[_ChunkRead] | None = None
        saving: asyncio.Future[None] | None = None
        try:
            for n, chunk in enumerate(chunks):
                read = await ahead if ahead is not None else await self._read_chunk(chunk)
                ahead = None
                if n + 1 < len(chunks):
                    ahead = asyncio.ensure_future(self._read_chunk(chunks[n + 1]))
                saves = self._saves_of(chunk, read, causes)
                if saving is not None:
                    await saving
                saving = asyncio.ensure_future(self._save_chunk(saves, causes))
            if saving is not None:
                await saving
        finally:  # a failure or a cancellation: what is still in hand is not needed
            waiting = [f for f in (ahead, saving) if f is not None and not f.done()]
            for future in waiting:
                future.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)

    async def _save_chunk(self, saves: list[RecordSave], causes: Mapping[Pair, Cause]) -> None:
        """Save a chunk's records as folded (`saves`); the pairs whose save lost are read,
        folded and saved again."""
        for _attempt in range(_MAX_SAVE_ATTEMPTS):
            saved = await self._stores.aggregates.save_records(saves)
            pending = [s.pair for s in saves if s.pair not in saved]
            if not pending:
                return
            saves = self._saves_of(pending, await self._read_chunk(pending), causes)
        member_id, activity_id = saves[0].member_id, saves[0].activity_id
        raise StoreUnavailable(f"record {member_id}/{activity_id} is contended; retry later")

    async def _read_chunk(self, pairs: Sequence[Pair]) -> _ChunkRead:
        """What folding the pairs' records takes. The records (their revs) are read before
        the facts: see the module docstring."""
        current = await self._stores.aggregates.get_records(pairs)
        member_ids = sorted({m for m, _a in pairs})
        members = await self._stores.identities.get_members(member_ids)
        facts, folded = await self._facts_or_folded(pairs, members)
        public = {m: m for m in member_ids}  # the id events name each member by
        if self._disclosure is not None:
            public = await self._disclosure.public_ids(member_ids, members)
        return _ChunkRead(current, facts, members, public, folded)

    async def _facts_or_folded(
        self, pairs: Sequence[Pair], members: Mapping[str, Member]
    ) -> tuple[Mapping[Pair, list[Fact]], Mapping[Pair, dict[str, Any] | None]]:
        """The facts of a chunk's pairs, or for a share of a large chunk their records
        already folded by the mapping child from the facts it read (`FactStore.reader`):
        (facts of the pairs read here, records of the pairs folded there)."""
        facts_store = self._stores.facts
        reader = facts_store.reader()
        if reader is None or len(pairs) < _LEAST_TO_FOLD_THERE or not self._mapper.child_running:
            return await facts_store.facts_for_pairs(pairs), {}
        cut = int(len(pairs) * _FOLDED_THERE)
        there, here = pairs[:cut], pairs[cut:]
        version = self._projector.mapping.version
        wanted = {m: members[m] for m, _a in there if m in members}
        folded, facts = await together(
            self._mapper.fold(reader, there, wanted, version),
            facts_store.facts_for_pairs(here),
        )
        if folded is None:  # the child failed: its share is read here too
            return {**facts, **await facts_store.facts_for_pairs(there)}, {}
        return facts, folded

    def _saves_of(
        self, pairs: Sequence[Pair], read: _ChunkRead, causes: Mapping[Pair, Cause]
    ) -> list[RecordSave]:
        """The save of each pair's record as its facts (`read`) make it."""
        now = self._clock()  # + i: each record of the batch its own update time, in order
        return [
            self._save(
                pair,
                read.current.get(pair),
                read.facts.get(pair, []),
                read.members.get(pair[0]),
                now + i,
                public_id=read.public[pair[0]],
                cause=causes.get(pair),
                folded=read.folded.get(pair, _NOT_FOLDED),
            )
            for i, pair in enumerate(pairs)
        ]

    def _save(
        self,
        pair: Pair,
        current: StoredRecord | None,
        facts: list[Fact],
        member: Member | None,
        now: int,
        *,
        public_id: str,
        cause: Cause | None = None,
        folded: object = _NOT_FOLDED,
    ) -> RecordSave:
        """`folded`: the record as the mapping child folded it, if it did."""
        member_id, activity_id = pair
        if folded is _NOT_FOLDED:
            record = fold_for_member(
                member_id, activity_id, facts, member, self._projector.mapping.version
            )
        else:
            record = cast(dict[str, Any] | None, folded)
        old = current.record if current else None
        # Save even when nothing changed (or nothing exists): moving the rev is what makes
        # a concurrent save computed from older facts fail (see the module docstring).
        version = current.version if current else 0
        event = change_event(
            member_id,
            activity_id,
            old,
            record,
            version=version + 1,
            now_us=now,
            public_id=public_id,
            verbs=sorted(cause.verbs) if cause else (),
            source_stored_us=cause.stored_us if cause else None,
        )
        return RecordSave(
            member_id,
            activity_id,
            expected_rev=current.rev if current else 0,
            record=record,
            version=version + 1 if event else version,
            now_us=now,
            event=event,
            quiet=event is None and record != old,
        )

    async def _follow_identity_changes(self) -> None:
        """Re-resolve unmatched facts when the identity map moved since the last look."""
        version = await self._stores.identities.identity_version()
        if version != self._identity_seen:
            await self.retry_unmatched()
            self._identity_seen = version

    async def retry_unmatched(self) -> int:
        """Project the unmatched facts whose actor now maps to a member; how many did."""
        matched = 0
        after = None
        while True:
            page = await self._stores.facts.unmatched_facts(_UNMATCHED_PAGE, after)
            if not page:
                return matched
            matched += len(await self.reresolve(page))
            after = page[-1].statement_id

    async def reresolve(self, facts: Sequence[Fact]) -> list[Fact]:
        """Resolve the facts' actors again; store and recompute those whose member changed."""
        members = await self._members_for([f.actor_key for f in facts])
        moved = [
            replace(f, member_id=members[f.actor_key])
            for f in facts
            if members[f.actor_key] != f.member_id
        ]
        if moved:
            await self._stores.facts.put_facts(moved)
            await self.recompute(_pairs(facts) | _pairs(moved))
            await self._quality.note_moved(moved, [f for f in moved if f.member_id is None])
        return moved

    async def reproject_identities(
        self, keys: Iterable[str], member_ids: Iterable[str] = ()
    ) -> int:
        """Re-project after the identity map changed: the facts of these actor keys are resolved
        again (held ones get their member, a key become a conflict is held), and the records of
        `member_ids` are recomputed (their `email` field follows the primary email). The
        facts whose member changed."""
        wanted = sorted({k for key in keys for k in matching_keys(key)})
        moved = await self.reresolve(await self._stores.facts.facts_for_actors(wanted))
        pairs: set[Pair] = set()
        for member_id in sorted(set(member_ids)):
            records = await self._stores.aggregates.member_records(member_id)
            pairs.update((r.member_id, r.activity_id) for r in records)
        await self.recompute(pairs)
        await self._stores.aggregates.publish_events()
        return len(moved)

    async def announce_members(self, found: Sequence[tuple[Member, str]]) -> int:
        """Put member events (`projections.member_events`) in the outbox, each member named
        by the id events carry; how many were new."""
        if not found:
            return 0
        ids = sorted({m.member_id for m, _k in found})
        public = {m: m for m in ids}
        if self._disclosure is not None:
            public = await self._disclosure.public_ids(ids, {m.member_id: m for m, _k in found})
        return await self._stores.aggregates.add_events(member_events(found, public, self._clock()))


class _Slice(NamedTuple):
    """A slice of a batch, claimed: its statements and their mapping under way (`_mapped`)."""

    statements: list[StoredStatement]
    mapping: asyncio.Future[list[Assessment | None]]


class _ChunkRead(NamedTuple):
    """A chunk of pairs as read for their recompute: their stored records, counted facts,
    members and the ids events name the members by."""

    current: Mapping[Pair, StoredRecord]
    facts: Mapping[Pair, list[Fact]]
    members: Mapping[str, Member]
    public: Mapping[str, str]
    folded: Mapping[Pair, dict[str, Any] | None]  # records the mapping child folded


class _Batch:
    """What a batch keeps of its slices once their facts are written: the statement ids (for
    the checkpoint and lease renewals), the newest stored time, the pairs touched and what
    changed each."""

    def __init__(self, leased_us: int) -> None:
        self.leased_us = leased_us  # when its statements were last leased (or just before)
        self.ids: list[str] = []
        self.newest_us = 0
        self.touched: set[Pair] = set()
        self.causes: dict[Pair, Cause] = {}
        self.quality = HeldNotes()  # the slices' data-quality items, written once

    def add(
        self, statements: Sequence[StoredStatement], touched: set[Pair], causes: dict[Pair, Cause]
    ) -> None:
        self.ids += [s.id for s in statements]
        self.newest_us = max(self.newest_us, *(s.stored_us for s in statements))
        self.touched |= touched
        known = self.causes
        for pair, cause in causes.items():
            if (seen := known.get(pair)) is None:
                known[pair] = cause  # taken over: the slice's causes are not used again
            else:
                seen.verbs |= cause.verbs
                seen.add(None, cause.stored_us)


def _pairs(facts: Iterable[Fact]) -> set[Pair]:
    return {pair for f in facts if (pair := f.pair) is not None}
