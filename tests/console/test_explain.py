"""Find and explain: what a statement contributed, the member page, the member search."""

from __future__ import annotations

import base64
import re

from console import explain, members
from lrs.keys import marketplace_app_key
from projections.identity_rows import IdentityRow, read_rows
from projections.keys import projection_key
from projections.service import Projection
from projections.store.base import Fact
from tests.console.conftest import Console
from tests.console.test_pages import create_credential_in_console, post_statements
from tests.factories import make_statement

EVE = {"objectType": "Agent", "mbox": "mailto:Eve+lms@example.com", "name": "Eve"}
STRANGER = {"objectType": "Agent", "mbox": "mailto:nobody@example.com"}
COURSE = {"objectType": "Activity", "id": "https://lms.example.com/courses/python-101"}
PASSED = {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"en-US": "passed"}}
VIEWED = {"id": "http://id.tincanapi.com/verb/viewed", "display": {"en-US": "viewed"}}
SCORE = {"score": {"scaled": 0.8}, "success": True, "completion": True}


def projection_of(console: Console) -> Projection:
    return console.http.app[marketplace_app_key][projection_key]


async def hire_eve(projection: Projection) -> None:
    """E1, Eve, as an HRIS import gives her (so the audit log names her)."""
    lines = ["employee_id,email,name\n", "E1,eve@example.com,Eve Example\n"]
    rows = [r for r in read_rows(lines, {}, {}) if isinstance(r, IdentityRow)]
    plan = await projection.identities.plan(rows, full=False, present=set(), max_share=1.0)
    await projection.identities.apply(plan, actor="cli")


async def signed_in_poster(console: Console, role: str = "admin") -> str:
    await console.operator("ada")
    await console.login("ada")
    key, secret = await create_credential_in_console(console)
    if role != "admin":
        await console.operator("vic", role=role)
        await console.login("vic")
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


async def test_a_statement_page_names_the_record_it_counts_in_and_the_member_page_explains(
    console: Console,
) -> None:
    auth = await signed_in_poster(console, role="viewer")
    projection = projection_of(console)
    await hire_eve(projection)
    [passed] = await post_statements(
        console, auth, [make_statement(actor=EVE, verb=PASSED, object=COURSE, result=SCORE)]
    )
    _, page = await console.page(f"/console/statements/{passed}")
    assert 'data-state="pending"' in page  # stored, not applied yet
    await projection.worker.drain()
    status, page = await console.page(f"/console/statements/{passed}")
    assert status == 200 and 'data-state="counted"' in page
    assert 'href="/console/members/E1"' in page and COURSE["id"] in page
    assert "learning_completed" in page

    status, page = await console.page("/console/members/E1")
    assert status == 200 and "Eve Example" in page and COURSE["id"] in page
    # provenance: each field links back to the statement it comes from
    assert f'class="source" href="/console/statements/{passed}"' in page
    assert "eve@example.com" in page and "identities.import" in page


async def test_unmatched_out_of_scope_and_voided_statements_say_so(console: Console) -> None:
    auth = await signed_in_poster(console)
    projection = projection_of(console)
    [held, ignored] = await post_statements(
        console,
        auth,
        [
            make_statement(actor=STRANGER, verb=PASSED, object=COURSE, result=SCORE),
            make_statement(verb=VIEWED),  # a page view: out of the mapping's scope
        ],
    )
    await projection.worker.drain()
    _, page = await console.page(f"/console/statements/{held}")
    assert 'data-state="unmatched"' in page and "held: unmatched actor" in page
    assert "nobody@example.com" in page
    _, page = await console.page(f"/console/statements/{ignored}")
    assert 'data-state="none"' in page and "out of scope" in page
    voiding = make_statement(
        verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
        object={"objectType": "StatementRef", "id": held},
    )
    [voider] = await post_statements(console, auth, [voiding])
    await projection.worker.drain()
    _, page = await console.page(f"/console/statements/{held}")
    assert 'data-state="voided"' in page
    _, page = await console.page(f"/console/statements/{voider}")
    assert "a voiding statement" in page


async def test_the_member_search_finds_by_id_address_and_earlier_address(
    console: Console,
) -> None:
    await signed_in_poster(console, role="viewer")
    await hire_eve(projection_of(console))
    for query in ("E1", "eve@example.com", "EVE+tag@Example.com", "mailto:eve@example.com"):
        status, page = await console.page(f"/console/members?q={query.replace('+', '%2B')}")
        assert status == 200 and 'href="/console/members/E1"' in page, query
    status, page = await console.page("/console/members?q=E404")
    assert status == 200 and "No member matches" in page
    status, page = await console.page("/console/members?q=" + "x" * 400)
    assert status == 400 and "at most 320" in page
    status, page = await console.page("/console/members?q=@")
    assert status == 400 and "not an email address" in page
    assert (await console.page("/console/members/E404"))[0] == 404
    status, page = await console.page("/console/members")
    assert status == 200 and 'id="q"' in page and 'id="members"' not in page


async def test_member_pages_need_a_session(console: Console) -> None:
    status, _ = await console.page("/console/members/E1")
    assert status == 303
    status, _ = await console.page("/console/members?q=E1")
    assert status == 303


# --- units -------------------------------------------------------------------------------------


def test_a_fact_explains_itself() -> None:
    counted = Fact("s1", "email:e@x", "E1", "https://a", 1, data={"success": "passed"})
    effect = explain.from_fact(counted)
    assert (effect.state, effect.member_id, effect.fields) == (
        "counted",
        "E1",
        [("success", '"passed"')],
    )
    held = Fact("s2", "account:https://lms.example\nu7", None, "https://a", 1)
    assert "account https://lms.example u7" in explain.from_fact(held).summary
    assert explain.from_fact(Fact("s3", "", None, None, 1, voided=True)).state == "voided"


def test_audit_entries_name_a_member_by_subject_or_anywhere_in_details() -> None:
    from projections.store.audit import AuditRecord

    entry = AuditRecord(1, 0, "identities.import", "cli", "hris", {"hires": ["E1", "E2"]})
    assert members.names_member(entry, "E2")
    assert not members.names_member(entry, "E3")
    assert members.names_member(AuditRecord(2, 0, "x", "cli", "E3"), "E3")


def test_claims_list_current_identities_first() -> None:
    from projections.store.base import Claim

    rows = members.claim_rows(
        [
            Claim("email:old@example.com", "E1", "2020-01-01", "2024-01-01"),
            Claim("email:new@example.com", "E1", "2024-01-01"),
        ]
    )
    assert rows == [
        ("new@example.com", "2024-01-01", "current"),
        ("old@example.com", "2020-01-01", "2024-01-01"),
    ]
    assert re.match(r"employee id E9", members.claim_rows([Claim("hris:E9", "E1")])[0][0])
