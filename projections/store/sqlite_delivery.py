"""SQLite DeliveryStore: subscriptions, the outbox (`webhook_events`, written with the records
in `sqlite.py`) and deliveries. Claims and outcomes are writer jobs, so a lease is taken by
exactly one dispatcher."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from lrs.errors import Conflict
from lrs.store.engine.sqlite import SQLiteDatabase
from projections.store.base import (
    DEAD,
    DELIVERED,
    PENDING,
    Delivery,
    DeliveryCounts,
    OutboxEvent,
    Subscription,
)
from projections.store.sqlite import chunks, marks

DELIVERY_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    filters TEXT NOT NULL,
    secret_salt TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at_us INTEGER NOT NULL,
    owner TEXT,
    lease_until_us INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(state, next_at_us);
CREATE INDEX IF NOT EXISTS webhook_deliveries_subscription_due
    ON webhook_deliveries(subscription_id, state, next_at_us);
"""

_FILTERS = ("event_types", "verbs", "activities", "members", "scopes")  # + what it sees
_DELIVERY = "d.id, d.event_id, d.subscription_id, d.state, d.attempts, d.next_at_us, d.last_error"


def delivery_id(event_id: str, subscription_id: str) -> str:
    """One delivery per (event, subscription)."""
    return f"{event_id}.{subscription_id}"


def _subscription(row: Sequence[Any]) -> Subscription:
    sid, url, filters, salt, created_at = row
    lists = {k: tuple(v) for k, v in orjson.loads(filters).items() if k in _FILTERS}
    return Subscription(sid, url, secret_salt=salt, created_at=created_at, **lists)


def _delivery(row: Sequence[Any]) -> Delivery:
    did, event_id, subscription_id, state, attempts, next_at_us, last_error, body = row
    return Delivery(
        did,
        event_id,
        subscription_id,
        state,
        attempts,
        next_at_us,
        last_error,
        body=bytes(body) if body is not None else b"",
    )


class SQLiteDeliveryStore:
    """Subscriptions, outbox and deliveries in SQLite."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.ensure_schema(DELIVERY_SCHEMA)

    async def add_subscription(self, subscription: Subscription) -> None:
        """Store a new subscription."""
        filters = {k: list(getattr(subscription, k)) for k in _FILTERS}
        row = (
            subscription.id,
            subscription.url,
            orjson.dumps(filters).decode(),
            subscription.secret_salt,
            subscription.created_at,
        )

        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute("INSERT INTO webhook_subscriptions VALUES (?, ?, ?, ?, ?)", row)
            except sqlite3.IntegrityError:
                raise Conflict(f"subscription {subscription.id} exists") from None

        await self._db.write(job)

    async def get_subscription(self, subscription_id: str) -> Subscription | None:
        """One subscription."""

        def job(conn: sqlite3.Connection) -> Subscription | None:
            row = conn.execute(
                "SELECT * FROM webhook_subscriptions WHERE id = ?", (subscription_id,)
            ).fetchone()
            return _subscription(row) if row else None

        return await self._db.read(job)

    async def list_subscriptions(self) -> list[Subscription]:
        """Every subscription, oldest first."""

        def job(conn: sqlite3.Connection) -> list[Subscription]:
            rows = conn.execute("SELECT * FROM webhook_subscriptions ORDER BY created_at, id")
            return [_subscription(r) for r in rows]

        return await self._db.read(job)

    async def delete_subscription(self, subscription_id: str) -> bool:
        """Remove it and its pending deliveries."""

        def job(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM webhook_subscriptions WHERE id = ?", (subscription_id,))
            conn.execute(
                "DELETE FROM webhook_deliveries WHERE subscription_id = ? AND state = ?",
                (subscription_id, PENDING),
            )
            return cur.rowcount > 0

        return await self._db.write(job)

    async def unfanned_events(self, limit: int) -> list[OutboxEvent]:
        """Outbox events in commit order."""

        def job(conn: sqlite3.Connection) -> list[OutboxEvent]:
            rows = conn.execute(
                "SELECT id, type, member_id, activity_id, occurred_us, body FROM webhook_events "
                "WHERE fanned = 0 ORDER BY seq LIMIT ?",
                (limit,),
            )
            return [
                OutboxEvent(event_id, kind, member, activity, occurred_us, bytes(body))
                for event_id, kind, member, activity, occurred_us, body in rows
            ]

        return await self._db.read(job)

    async def fan_out(self, event_id: str, subscription_ids: Sequence[str], now_us: int) -> None:
        """Deliveries and the fanned mark in one commit."""
        rows = [(delivery_id(event_id, s), event_id, s, PENDING, now_us) for s in subscription_ids]

        def job(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT OR IGNORE INTO webhook_deliveries (id, event_id, subscription_id, state, "
                "next_at_us) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute("UPDATE webhook_events SET fanned = 1 WHERE id = ?", (event_id,))

        await self._db.write(job)

    async def add_replays(
        self, events: Sequence[OutboxEvent], subscription_id: str, now_us: int
    ) -> int:
        """Each event, fanned, and its one delivery, in one commit."""

        def job(conn: sqlite3.Connection) -> int:
            added = 0
            for e in events:
                added += conn.execute(
                    "INSERT OR IGNORE INTO webhook_events (id, type, member_id, activity_id, "
                    "occurred_us, body, fanned) VALUES (?, ?, ?, ?, ?, ?, 1)",
                    (e.id, e.type, e.member_id, e.activity_id, e.occurred_us, e.body),
                ).rowcount
                conn.execute(
                    "INSERT OR IGNORE INTO webhook_deliveries (id, event_id, subscription_id, "
                    "state, next_at_us) VALUES (?, ?, ?, ?, ?)",
                    (delivery_id(e.id, subscription_id), e.id, subscription_id, PENDING, now_us),
                )
            return added

        return await self._db.write(job) if events else 0

    async def claim_deliveries(
        self,
        owner: str,
        now_us: int,
        lease_us: int,
        limit: int,
        *,
        subscription_id: str | None = None,
    ) -> list[Delivery]:
        """Lease due deliveries in the writer; they fall due again when the lease ends."""
        where = "state = ? AND next_at_us <= ? AND lease_until_us <= ?"
        params: tuple[Any, ...] = (PENDING, now_us, now_us)
        if subscription_id is not None:
            where = "subscription_id = ? AND " + where
            params = (subscription_id, *params)
        until = now_us + lease_us

        def job(conn: sqlite3.Connection) -> list[Delivery]:
            ids = [
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM webhook_deliveries WHERE {where} "
                    "ORDER BY next_at_us, id LIMIT ?",
                    (*params, limit),
                )
            ]
            for part in chunks(ids):
                conn.execute(
                    "UPDATE webhook_deliveries SET owner = ?, lease_until_us = ?, next_at_us = ? "
                    f"WHERE id IN ({marks(len(part))})",
                    (owner, until, until, *part),
                )
            return _with_bodies(conn, "d.id IN ({})", ids)

        return await self._db.write(job)

    async def next_due_us(self, subscription_id: str) -> int | None:
        """The earliest `next_at_us` of its pending deliveries (the index's first entry)."""

        def job(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT min(next_at_us) FROM webhook_deliveries "
                "WHERE subscription_id = ? AND state = ?",
                (subscription_id, PENDING),
            ).fetchone()
            return None if row[0] is None else int(row[0])

        return await self._db.read(job)

    async def finish_delivery(
        self,
        delivery_id: str,
        owner: str,
        *,
        state: str,
        attempts: int,
        next_at_us: int,
        error: str | None,
    ) -> bool:
        """Record the outcome if still the lease owner."""

        def job(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_at_us = ?, "
                "last_error = ?, owner = NULL, lease_until_us = 0 WHERE id = ? AND owner = ?",
                (state, attempts, next_at_us, error, delivery_id, owner),
            )
            return cur.rowcount > 0

        return await self._db.write(job)

    async def dead_letters(
        self, limit: int, *, subscription_id: str | None = None
    ) -> list[Delivery]:
        """Dead deliveries with bodies (one subscription's on its index)."""
        where, params = "state = ?", [DEAD]
        if subscription_id is not None:
            where, params = "subscription_id = ? AND " + where, [subscription_id, DEAD]

        def job(conn: sqlite3.Connection) -> list[Delivery]:
            ids = [
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM webhook_deliveries WHERE {where} ORDER BY next_at_us, id "
                    "LIMIT ?",
                    (*params, limit),
                )
            ]
            return _with_bodies(conn, "d.id IN ({})", ids)

        return await self._db.read(job)

    async def recent_deliveries(self, subscription_id: str, limit: int) -> list[Delivery]:
        """The latest `limit` of each state (index order, backwards), merged, the latest kept."""
        sql = (
            "SELECT next_at_us, id FROM webhook_deliveries WHERE subscription_id = ? "
            "AND state = ? ORDER BY next_at_us DESC, id DESC LIMIT ?"
        )

        def job(conn: sqlite3.Connection) -> list[Delivery]:
            latest = [
                tuple(row)
                for state in (PENDING, DELIVERED, DEAD)
                for row in conn.execute(sql, (subscription_id, state, limit))
            ]
            ids = [did for _, did in sorted(latest, reverse=True)[:limit]]
            return _with_bodies(conn, "d.id IN ({})", ids)

        return await self._db.read(job)

    async def redeliver(self, delivery_ids: Sequence[str] | None, now_us: int) -> int:
        """Dead → pending, attempts reset."""

        def job(conn: sqlite3.Connection) -> int:
            sql = (
                "UPDATE webhook_deliveries SET state = ?, attempts = 0, next_at_us = ?, "
                "owner = NULL, lease_until_us = 0 WHERE state = ?"
            )
            if delivery_ids is None:
                return conn.execute(sql, (PENDING, now_us, DEAD)).rowcount
            changed = 0
            for part in chunks(list(delivery_ids)):
                where = f" AND id IN ({marks(len(part))})"
                changed += conn.execute(sql + where, (PENDING, now_us, DEAD, *part)).rowcount
            return changed

        return await self._db.write(job)

    async def delivery_counts(self) -> DeliveryCounts:
        """The backlog."""

        def job(conn: sqlite3.Connection) -> DeliveryCounts:
            (unfanned,) = conn.execute(
                "SELECT count(*) FROM webhook_events WHERE fanned = 0"
            ).fetchone()
            states = dict(
                conn.execute("SELECT state, count(*) FROM webhook_deliveries GROUP BY state")
            )
            return DeliveryCounts(
                unfanned_events=unfanned,
                pending=states.get(PENDING, 0),
                dead=states.get(DEAD, 0),
                delivered=states.get(DELIVERED, 0),
            )

        return await self._db.read(job)

    async def subscription_counts(self, subscription_id: str) -> dict[str, int]:
        """By state, on the (subscription_id, state, ...) index."""
        sql = (
            "SELECT CASE WHEN state = ? THEN iif(attempts > 0, 'retrying', 'queued') "
            "ELSE state END, count(*) FROM webhook_deliveries "
            "WHERE subscription_id = ? GROUP BY 1"
        )

        def job(conn: sqlite3.Connection) -> dict[str, int]:
            counts = dict.fromkeys(("queued", "retrying", DELIVERED, DEAD), 0)
            counts.update(conn.execute(sql, (PENDING, subscription_id)))
            return counts

        return await self._db.read(job)


def _with_bodies(conn: sqlite3.Connection, where: str, ids: list[str]) -> list[Delivery]:
    found: dict[str, Delivery] = {}
    for part in chunks(ids):
        condition = where.format(marks(len(part)))
        rows = conn.execute(
            f"SELECT {_DELIVERY}, e.body FROM webhook_deliveries d "
            f"LEFT JOIN webhook_events e ON e.id = d.event_id WHERE {condition}",
            part,
        )
        for row in rows:
            found[row[0]] = _delivery(row)
    return [found[i] for i in ids if i in found]
