"""The accounts and sessions services on every backend, their clock driven by the tests."""

from __future__ import annotations

import pytest

from console.accounts import Accounts
from console.secrets import token_hash
from console.sessions import Sessions
from console.settings import ConsoleSettings
from console.store import ConsoleStores, open_console_stores
from lrs.errors import BadRequest, Conflict, NotFound, TooManyRequests
from lrs.store.base import Backend
from projections.audit import AuditLog
from projections.store import open_stores

PASSWORD = "twelve chars at least"


class Clock:
    """Seconds since the epoch, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def stores(backend: Backend) -> ConsoleStores:
    return await open_console_stores(backend)


@pytest.fixture
async def accounts(backend: Backend, stores: ConsoleStores, clock: Clock) -> Accounts:
    audit = AuditLog((await open_stores(backend)).audit)
    return Accounts(stores.operators, stores.sessions, audit, ConsoleSettings(), clock=clock)


@pytest.fixture
def sessions(stores: ConsoleStores, clock: Clock) -> Sessions:
    return Sessions(stores.sessions, stores.operators, ConsoleSettings(), clock=clock)


async def test_a_link_works_until_it_expires(accounts: Accounts, clock: Clock) -> None:
    link = await accounts.create("ada", "admin", actor="cli")
    clock.now += ConsoleSettings().link_minutes * 60
    with pytest.raises(BadRequest, match="not valid"):
        await accounts.set_password(link.token, PASSWORD)
    fresh = await accounts.reset("ada", actor="cli")
    clock.now += ConsoleSettings().link_minutes * 60 - 1
    assert await accounts.set_password(fresh.token, PASSWORD) == "ada"


async def test_names_roles_and_unknown_operators_are_checked(accounts: Accounts) -> None:
    with pytest.raises(BadRequest, match="role"):
        await accounts.create("ada", "root", actor="cli")
    with pytest.raises(BadRequest, match="name"):
        await accounts.create("-ada", "admin", actor="cli")
    await accounts.create("ada", "admin", actor="cli")
    with pytest.raises(Conflict):
        await accounts.create("ada", "viewer", actor="cli")
    with pytest.raises(NotFound):
        await accounts.disable("bob", actor="cli")
    with pytest.raises(NotFound):
        await accounts.reset("bob", actor="cli")


async def test_the_password_is_stored_hashed_and_checked(
    accounts: Accounts, stores: ConsoleStores
) -> None:
    link = await accounts.create("ada", "admin", actor="cli")
    await accounts.set_password(link.token, PASSWORD)
    stored = await stores.operators.get_operator("ada")
    assert stored and stored.password_hash and stored.password_hash.startswith("scrypt$")
    assert PASSWORD not in stored.password_hash
    assert await accounts.log_in("ada", PASSWORD, "10.0.0.1") == stored
    assert await accounts.log_in("ada", PASSWORD + "!", "10.0.0.1") is None


async def test_successes_do_not_count_and_failures_leave_the_window(
    accounts: Accounts, clock: Clock
) -> None:
    link = await accounts.create("ada", "admin", actor="cli")
    await accounts.set_password(link.token, PASSWORD)
    settings = ConsoleSettings()
    for _ in range(settings.failures_per_account * 2):
        assert await accounts.log_in("ada", PASSWORD, "10.0.0.1") is not None
    for _ in range(settings.failures_per_account):
        assert await accounts.log_in("ada", "wrong", "10.0.0.1") is None
    with pytest.raises(TooManyRequests):
        await accounts.log_in("ada", PASSWORD, "10.0.0.2")  # the account, from anywhere
    clock.now += settings.throttle_minutes * 60
    assert await accounts.log_in("ada", PASSWORD, "10.0.0.1") is not None


async def test_a_session_ends_at_its_expiry_or_when_idle(
    accounts: Accounts, sessions: Sessions, stores: ConsoleStores, clock: Clock
) -> None:
    link = await accounts.create("ada", "admin", actor="cli")
    await accounts.set_password(link.token, PASSWORD)
    operator = await stores.operators.get_operator("ada")
    assert operator is not None
    settings = ConsoleSettings()
    session_id = await sessions.start(operator)
    step, elapsed = settings.idle_minutes * 60 - 1, 0  # active, just inside the idle timeout
    while await sessions.resolve(session_id) is not None:
        clock.now += step
        elapsed += step
    assert settings.session_minutes * 60 <= elapsed < settings.session_minutes * 60 + step
    idle = await sessions.start(operator)
    clock.now += settings.idle_minutes * 60
    assert await sessions.resolve(idle) is None
    assert await stores.sessions.get_session(token_hash(idle)) is None


async def test_activity_is_written_at_most_once_a_minute(
    accounts: Accounts, sessions: Sessions, stores: ConsoleStores, clock: Clock
) -> None:
    await accounts.create("ada", "admin", actor="cli")
    operator = await stores.operators.get_operator("ada")
    assert operator is not None
    session_id = await sessions.start(operator)
    started = await stores.sessions.get_session(token_hash(session_id))
    assert started is not None
    clock.now += 59
    await sessions.resolve(session_id)
    assert await stores.sessions.get_session(token_hash(session_id)) == started
    clock.now += 1
    await sessions.resolve(session_id)
    touched = await stores.sessions.get_session(token_hash(session_id))
    assert touched is not None and touched.seen_us == started.seen_us + 60_000_000


async def test_the_sweep_forgets_expired_sessions(
    accounts: Accounts, sessions: Sessions, stores: ConsoleStores, clock: Clock
) -> None:
    await accounts.create("ada", "admin", actor="cli")
    operator = await stores.operators.get_operator("ada")
    assert operator is not None
    old = await sessions.start(operator)
    clock.now += ConsoleSettings().idle_minutes * 60
    new = await sessions.start(operator)
    assert await sessions.sweep() == 1
    assert await stores.sessions.get_session(token_hash(old)) is None
    assert await sessions.resolve(new) is not None


def test_settings_come_from_the_environment() -> None:
    settings = ConsoleSettings.from_env(
        {"LRS_CONSOLE_IDLE_MINUTES": "5", "LRS_CONSOLE_FAILURES_PER_ACCOUNT": "3"}
    )
    assert (settings.idle_minutes, settings.failures_per_account) == (5, 3)
    assert settings.session_minutes == ConsoleSettings().session_minutes
    from lrs.errors import ConfigError

    with pytest.raises(ConfigError, match="LRS_CONSOLE_MIN_PASSWORD_LENGTH"):
        ConsoleSettings.from_env({"LRS_CONSOLE_MIN_PASSWORD_LENGTH": "4"})
