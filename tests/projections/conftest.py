"""Fixtures of the projection tests: stores on every backend, the shipped mapping, a worker, and
statements stored through the one write path (the StatementService)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from lrs.services.statements import StatementService
from lrs.store.base import Backend
from projections.audit import AuditLog
from projections.facts import Projector
from projections.identity import EMAIL
from projections.identity_ops import IdentityService
from projections.identity_rows import IdentityRow
from projections.settings import ProjectionSettings
from projections.store import ProjectionStores, open_stores
from projections.store.base import Claim, Member
from projections.worker import ProjectionWorker

HRIS = "https://hris.example.com"
AUTHORITY = {"objectType": "Agent", "account": {"homePage": "https://lrs.test", "name": "tests"}}
COURSE = "https://lms.example.com/courses/python-101"
VERB = "http://adlnet.gov/expapi/verbs/"


def projection_settings(**overrides: Any) -> ProjectionSettings:
    """The shipped mapping with an HRIS home page and one domain alias."""
    return ProjectionSettings(
        hris_home_page=HRIS, domain_aliases={"googlemail.com": "gmail.com"}
    ).with_overrides(**overrides)


@pytest.fixture
def projector() -> Projector:
    """The shipped mapping and verb table."""
    return Projector.from_settings(projection_settings())


# Employee ids the HRIS knows in these tests: statements by an HRIS account project only once
# the identity map has the id (an id the HRIS never gave is held, not made a member).
HRIS_MEMBERS = (*(f"E{n}" for n in range(10)), "E42", "E100")


async def hris_knows(stores: ProjectionStores, *member_ids: str) -> None:
    """Put members without addresses for these ids (default HRIS_MEMBERS) in the identity map."""
    await stores.identities.put_members([Member(m, ()) for m in member_ids or HRIS_MEMBERS])


async def claim(stores: ProjectionStores, member_id: str, *emails: str) -> None:
    """Write a member and its address claims straight to the store (as another process)."""
    await stores.identities.put_members([Member(member_id, emails)])
    await stores.identities.put_claims([Claim(EMAIL + e, member_id) for e in emails])


async def hris_load(stores: ProjectionStores, worker: ProjectionWorker, *members: Member) -> int:
    """Import members as an HRIS delta file would, re-projecting; the facts moved."""
    service = IdentityService(stores, worker, AuditLog(stores.audit))
    rows = [
        IdentityRow(n, m.member_id, {"email": m.emails[0], "secondary_emails": m.emails[1:]})
        for n, m in enumerate(members, start=2)
    ]
    return await service.apply(await service.plan(rows, full=False, present=set(), max_share=1))


@pytest.fixture
async def stores(backend: Backend) -> ProjectionStores:
    """The projection's stores on the test backend, the HRIS knowing HRIS_MEMBERS."""
    opened = await open_stores(backend)
    await hris_knows(opened)
    return opened


@pytest.fixture
def make_worker(
    backend: Backend, stores: ProjectionStores, projector: Projector
) -> Callable[..., ProjectionWorker]:
    """Workers on the test backend (each call another worker)."""

    def make(**options: Any) -> ProjectionWorker:
        return ProjectionWorker(backend.statements, stores, projector, **options)

    return make


@pytest.fixture
def worker(make_worker: Callable[..., ProjectionWorker]) -> ProjectionWorker:
    """One worker."""
    return make_worker(batch=50)


@dataclass
class Writer:
    """Stores statements through the statement service, as the xAPI API does."""

    service: StatementService

    async def store(self, *statements: dict[str, Any]) -> list[str]:
        """Store statements (one batch); their ids."""
        written = await self.service.store_statements(
            list(statements), authority=AUTHORITY, version="1.0.3", may_void_others=True
        )  # a writer with the `all` scope: it may void before the target arrives
        return written.ids


@pytest.fixture
def writer(backend: Backend) -> Writer:
    """The one write path on the test backend."""
    return Writer(StatementService(backend.statements, backend.attachments, backend.activities))


_seconds = itertools.count(1)


def at(second: int | None = None) -> str:
    """A timestamp `second` seconds into 2024 (a fresh, later one by default)."""
    n = next(_seconds) if second is None else second
    return f"2024-03-01T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000Z"


def hris_actor(member_id: str) -> dict[str, Any]:
    """An actor identified by its HRIS account."""
    return {"objectType": "Agent", "account": {"homePage": HRIS, "name": member_id}}


def mbox_actor(email: str) -> dict[str, Any]:
    """An actor identified by email."""
    return {"objectType": "Agent", "mbox": f"mailto:{email}"}


def statement(
    verb: str,
    *,
    actor: dict[str, Any] | None = None,
    activity: str = COURSE,
    timestamp: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A statement about an activity; `verb` is an ADL verb name or a full IRI."""
    return {
        "actor": actor or hris_actor("E1"),
        "verb": {"id": verb if ":" in verb else VERB + verb},
        "object": {"objectType": "Activity", "id": activity},
        "timestamp": timestamp or at(),
        **extra,
    }


def voiding(target_id: str, actor: dict[str, Any] | None = None) -> dict[str, Any]:
    """A statement voiding `target_id`."""
    return {
        "actor": actor or hris_actor("E1"),
        "verb": {"id": VERB + "voided"},
        "object": {"objectType": "StatementRef", "id": target_id},
    }


@pytest.fixture
async def market(
    aiohttp_client: Callable[..., Any],
    backend: Backend,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """The whole app over HTTP (xAPI + marketplace) on the test backend, HRIS configured."""
    from lrs.app import create_app
    from lrs.config import Config
    from lrs.settings import Settings
    from tests.projections.api_support import Market

    monkeypatch.setenv("LRS_HRIS_HOME_PAGE", HRIS)
    monkeypatch.setenv("LRS_WEBHOOK_ALLOW_INTERNAL", "1")  # receivers on 127.0.0.1
    monkeypatch.setenv("LRS_EMAIL_DOMAIN_ALIASES", "googlemail.com=gmail.com")
    config = Config(core=Settings(data_dir=tmp_path), projection=ProjectionSettings.from_env())
    app = create_app(config, backend=backend)
    market = Market(http=await aiohttp_client(app), backend=backend)
    await hris_knows(market.projection.stores)
    return market
