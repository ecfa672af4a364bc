"""Identity: actor keys, resolution through the identity map, identity file rows, import plans."""

from __future__ import annotations

import io

import pytest

from projections.facts import Projector
from projections.identity import IdentityResolver, account_key, actor_key, matching_keys
from projections.identity_plan import Stored, plan_import, plan_terminations, termination_share
from projections.identity_rows import (
    IdentityFileError,
    IdentityRow,
    RejectedRow,
    default_columns,
    read_rows,
)
from projections.store import ProjectionStores
from projections.store.base import Claim, Conflict, Member

ALIASES = {"googlemail.com": "gmail.com"}
NOW = "2026-12-01T00:00:00.000000Z"
LMS = "https://lms.example.com"


def test_actor_keys() -> None:
    assert actor_key({"member_id": "E1", "email": "a@x.com"}, {}) == "hris:E1"  # account wins
    assert actor_key({"email": "a@x.com"}, {}) == "email:a@x.com"
    sha1 = {"mbox_sha1sum": "ABC"}
    assert actor_key({}, sha1) == "ifi:mbox_sha1sum:abc"
    assert actor_key({}, {"objectType": "Agent"}) == "ifi:anonymous"
    lms = {"account": {"homePage": LMS + "/", "name": "u-1"}}
    assert actor_key({}, lms) == f"account:{LMS}\nu-1" == account_key(LMS, "u-1")
    assert matching_keys(account_key(LMS, "u-1")) == [
        f"account:{LMS}\nu-1",
        f"ifi:account:{LMS}\nu-1",
        f"ifi:account:{LMS}/\nu-1",
    ]


async def test_resolution(stores: ProjectionStores) -> None:
    await stores.identities.put_members([Member("E2", ("a@x.com",)), Member("E3", ())])
    await stores.identities.put_claims(
        [
            Claim("email:a@x.com", "E2"),
            Claim("email:old@x.com", "E2", valid_to=NOW),  # history keeps matching
            Claim("email:both@x.com", "E2"),
            Claim("email:both@x.com", "E3"),  # a conflict matches neither
            Claim(account_key(LMS, "u-1"), "E3"),
        ]
    )
    found = await IdentityResolver(stores.identities).members_for(
        [
            "hris:E2",
            "hris:E404",
            "email:a@x.com",
            "email:old@x.com",
            "email:both@x.com",
            "email:b@x.com",
            account_key(LMS, "u-1"),
            f"ifi:account:{LMS}/\nu-1",
            "ifi:openid:http://x",
        ]
    )
    assert found == {
        "hris:E2": "E2",
        "hris:E404": None,  # an employee id the HRIS does not know is held
        "email:a@x.com": "E2",
        "email:old@x.com": "E2",
        "email:both@x.com": None,
        "email:b@x.com": None,
        account_key(LMS, "u-1"): "E3",
        f"ifi:account:{LMS}/\nu-1": "E3",  # facts stored before accounts could match
        "ifi:openid:http://x": None,
    }


async def test_a_remembering_resolver_reads_again_only_when_the_map_changes(
    stores: ProjectionStores,
) -> None:
    """The worker's resolver keeps answers while the map's version stays: a key asked again
    costs no read of the map, and any change to the map (a claim, a member) is seen next time."""
    reads: list[list[str]] = []
    real = stores.identities

    class Counting:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(real, name)

        async def member_for_keys(self, keys):  # type: ignore[no-untyped-def]
            reads.append(sorted(keys))
            return await real.member_for_keys(keys)

    await real.put_members([Member("E2", ("a@x.com",)), Member("E3", ())])
    await real.put_claims([Claim("email:a@x.com", "E2")])
    resolver = IdentityResolver(Counting(), remember=10)  # type: ignore[arg-type]
    keys = ["email:a@x.com", "email:b@x.com", "hris:E3"]
    expected = {"email:a@x.com": "E2", "email:b@x.com": None, "hris:E3": "E3"}
    assert await resolver.members_for(keys) == expected
    assert await resolver.members_for(keys[:2]) == {k: expected[k] for k in keys[:2]}
    assert reads == [sorted(keys)]  # the second answer remembered
    await real.put_claims([Claim("email:b@x.com", "E3")])  # the map moves
    assert await resolver.members_for(keys) == {**expected, "email:b@x.com": "E3"}
    assert len(reads) == 2
    await real.delete_members(["E3"])
    assert (await resolver.members_for(["hris:E3"])) == {"hris:E3": None}
    # without `remember` every call reads the map
    plain = IdentityResolver(Counting())  # type: ignore[arg-type]
    await plain.members_for(["email:a@x.com"])
    await plain.members_for(["email:a@x.com"])
    assert len(reads) == 5


def rows(text: str, columns: dict[str, str] | None = None) -> list[IdentityRow | RejectedRow]:
    return list(read_rows(io.StringIO(text), columns or {}, ALIASES))


def test_csv_rows() -> None:
    got = rows(
        "employee_id,email,secondary_emails,employment_status,worker_type,effective_at,lms_accounts\n"
        "E1,Ada.Lovelace+hr@GoogleMail.com,ada@home.example; ADA@Home.Example,On Leave,"
        f"contractor,2026-05-01,{LMS}/ u-1|{LMS} u-2\n"
        "E2,grace@example.com,,,,,\n"
        ",,\n"
    )
    assert got == [
        IdentityRow(
            2,
            "E1",
            {
                "email": "ada.lovelace@gmail.com",
                "secondary_emails": ("ada@home.example",),
                "employment_status": "on_leave",
                "worker_type": "contractor",
                "effective_at": "2026-05-01T00:00:00.000000Z",
                "lms_accounts": ((LMS, "u-1"), (LMS, "u-2")),
            },
        ),
        IdentityRow(
            3,
            "E2",
            {
                "email": "grace@example.com",
                "secondary_emails": (),
                "employment_status": None,
                "worker_type": None,
                "effective_at": None,
                "lms_accounts": (),
            },
        ),
    ]


def test_ndjson_rows_and_columns() -> None:
    got = rows(
        '\n{"EmpID": "E1", "Mail": "a@x.com", "lms_accounts": [{"homePage": "https://l", '
        '"name": "n"}], "name": "Ada"}\nnot json\n[1]\n',
        {"employee_id": "EmpID", "email": "Mail"},
    )
    assert got[0] == IdentityRow(
        2, "E1", {"email": "a@x.com", "lms_accounts": (("https://l", "n"),), "name": "Ada"}
    )
    assert [(r.line, r.reason[:14]) for r in got[1:] if isinstance(r, RejectedRow)] == [
        (3, "not valid JSON"),
        (4, "not a JSON obj"),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("E1,not-an-address,", "email: 'not-an-address' is not an email address"),
        (",a@x.com,", "employee_id: missing"),
        ("E1,a@x.com,sometimes", "employment_status: 'sometimes' is not one of"),
    ],
)
def test_bad_rows_are_rejected_with_their_line(line: str, reason: str) -> None:
    (got,) = rows(f"employee_id,email,employment_status\n{line}\n")
    assert isinstance(got, RejectedRow) and got.line == 2 and got.reason.startswith(reason)


def test_a_file_without_an_employee_id_column_is_refused() -> None:
    with pytest.raises(IdentityFileError, match="no 'employee_id' column"):
        rows("employee,email\nE1,a@x.com\n")


def test_default_columns_follow_the_mapping(projector: Projector) -> None:
    assert default_columns(projector.mapping) == {
        "employee_id": "employee_id",
        "email": "email",
        "secondary_emails": "secondary_emails",
    }


def row(member_id: str, **values: object) -> IdentityRow:
    return IdentityRow(1, member_id, dict(values))


def stored(members: list[Member], claims: list[Claim], resolutions: dict[str, str] | None = None):
    by_member: dict[str, list[Claim]] = {}
    by_key: dict[str, list[Claim]] = {}
    for c in claims:
        by_member.setdefault(c.member_id, []).append(c)
        by_key.setdefault(c.key, []).append(c)
    return Stored({m.member_id: m for m in members}, by_member, by_key, resolutions or {})


def test_an_email_change_closes_the_old_claim_and_keeps_it() -> None:
    grace = Member("E2", ("grace@x.com",))
    before = stored([grace], [Claim("email:grace@x.com", "E2", "2020")])
    plan = plan_import([row("E2", email="g.hopper@x.com", secondary_emails=())], before, NOW)
    assert plan.changes == [(grace, Member("E2", ("g.hopper@x.com",)))]
    assert plan.claims == [
        Claim("email:g.hopper@x.com", "E2", NOW),
        Claim("email:grace@x.com", "E2", "2020", NOW),  # closed, not dropped
    ]
    assert plan.conflicts == [] and plan.new_keys == {"email:g.hopper@x.com"}


def test_the_same_rows_again_plan_nothing() -> None:
    ada = Member("E1", ("a@x.com",), name="Ada", accounts=((LMS, "u"),))
    claims = [Claim("email:a@x.com", "E1"), Claim(account_key(LMS, "u"), "E1")]
    plan = plan_import(
        [row("E1", email="a@x.com", name="Ada", lms_accounts=((LMS, "u"),))],
        stored([ada], claims),
        NOW,
    )
    assert plan.change_count == 0 and plan.unchanged == 1


def test_two_claims_on_one_address_are_a_conflict() -> None:
    existing = stored([Member("E1", ("a@x.com",))], [Claim("email:a@x.com", "E1")])
    plan = plan_import(
        [row("E2", email="a@x.com"), row("E3", email="b@x.com"), row("E4", email="b@x.com")],
        existing,
        NOW,
    )
    assert plan.conflicts == [
        Conflict("email:a@x.com", ("E1", "E2")),
        Conflict("email:b@x.com", ("E3", "E4")),
    ]
    assert [m.member_id for m in plan.hires] == ["E2", "E3", "E4"]


def test_a_resolved_address_is_refused_to_the_others() -> None:
    existing = stored([], [Claim("email:a@x.com", "E1")], {"email:a@x.com": "E1"})
    plan = plan_import([row("E2", email="a@x.com")], existing, NOW)
    assert plan.conflicts == [] and plan.claims == []
    assert [(r.key, r.member_id, r.resolved_for) for r in plan.refused] == [
        ("email:a@x.com", "E2", "E1")
    ]


def test_an_older_row_is_stale() -> None:
    newer = Member("E1", ("a@x.com",), effective_at="2026-06-01T00:00:00.000000Z")
    plan = plan_import(
        [row("E1", email="b@x.com", effective_at="2026-01-01T00:00:00.000000Z")],
        stored([newer], [Claim("email:a@x.com", "E1")]),
        NOW,
    )
    assert plan.stale == ["E1"] and plan.change_count == 0


def test_full_mode_terminates_the_absent() -> None:
    members = {"E1": Member("E1", ()), "E2": Member("E2", ())}
    statuses = {"E1": "active", "E2": "active", "E3": "terminated"}
    plan = plan_import([row("E1")], stored([members["E1"]], []), NOW)
    plan_terminations(plan, statuses, {"E1"}, members, NOW)
    assert [(m.member_id, m.employment_status) for m in plan.terminations] == [("E2", "terminated")]
    assert termination_share(plan, statuses) == 0.5


async def test_the_earlier_sqlite_identity_tables_are_moved_in(tmp_path) -> None:
    import sqlite3

    from lrs.store.sqlite import SQLiteBackend
    from projections.store import open_stores

    conn = sqlite3.connect(tmp_path / "lrs.sqlite3")
    conn.executescript(
        "CREATE TABLE identity_members (member_id TEXT PRIMARY KEY, emails TEXT NOT NULL);"
        "CREATE TABLE identity_emails (email TEXT PRIMARY KEY, member_id TEXT NOT NULL);"
        "INSERT INTO identity_members VALUES ('E1', '[\"a@x.com\", \"b@x.com\"]');"
        "INSERT INTO identity_emails VALUES ('a@x.com', 'E1'), ('b@x.com', 'E1');"
    )
    conn.commit()
    conn.close()
    backend = SQLiteBackend(tmp_path)
    try:
        stores = await open_stores(backend)
        assert await stores.identities.get_member("E1") == Member("E1", ("a@x.com", "b@x.com"))
        assert await stores.identities.member_for_keys(["email:b@x.com"]) == {"email:b@x.com": "E1"}
        await stores.identities.put_claims([Claim("email:b@x.com", "E2")])
        await stores.identities.resolve("email:b@x.com", "E2", NOW)
        again = await open_stores(backend)  # opened again: nothing copied back
        assert await again.identities.member_for_keys(["email:b@x.com"]) == {"email:b@x.com": "E2"}
    finally:
        await backend.close()
