"""Every console page, rendered with data on it, passes the markup checks of tests/console/a11y.py
(labels, table headers and names, chart text, one <h1>, lang, link and button text, no positive
tabindex, a skip link first, errors announced), on every backend.

The pages are enumerated from the console's router, so a new page is checked without being
listed here; a page with a path parameter needs a real id from the seeded data in `SAMPLES`
(the test fails, naming it, until it has one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from lrs.keys import console_app_key, lti_app_key
from lrs.store.import_runs import IDENTITIES, ImportRun
from lti.keys import lti_stores_key, vault_key
from lti.registry import register_consumer, register_tool
from projections.quality import UNKNOWN_LEARNER
from tests.console.a11y import console_pages, focusable, parse, problems
from tests.console.act_support import dead_letters, import_members, market, post_statements
from tests.console.conftest import Console, csrf_of
from tests.console.test_oauth_consent import V1, authorize_query, consent, new_app

PUBLIC = {"/console/login", "/console/set-password"}


@dataclass
class Seeded:
    """The ids the pages with path parameters are opened with, and the one-off URLs."""

    statement_id: str
    member_id: str
    quality_item: str
    consent_url: str
    set_password_url: str


SAMPLES = {
    "/console/statements/{id}": lambda s: f"/console/statements/{s.statement_id}",
    "/console/members/{id}": lambda s: f"/console/members/{s.member_id}",
    "/console/quality/items/{id}": lambda s: f"/console/quality/items/{s.quality_item}",
    "/console/oauth/consent": lambda s: s.consent_url,
    "/console/set-password": lambda s: s.set_password_url,
}

# What proves a page was checked with data on it, not empty.
SHOWS = {
    "/console/imports": "Rejected rows of hris.csv",
    "/console/conflicts": "shared@example.com",
    "/console/lti": "Legacy LMS",
    "/console/webhooks": "HTTP 503",
    "/console/clients": "talent app",
    "/console/grants": "Talent app",
    "/console/quality": "stranger@example.com",
    "/console/statements": "learner1@example.com",
    "/console/members/{id}": "https://lms.example.com/course/1",
    "/console/oauth/consent": "read:scores",
}

# The same pages in the states that show an error or a choice made, with their status.
VARIANTS = (
    ("/console/statements?since=yesterday", 400),
    ("/console/imports?kind=nonsense", 400),
    ("/console/quality?state=gone", 400),
    (f"/console/quality?reason={UNKNOWN_LEARNER}", 200),
    ("/console/members?q=learner1@example.com", 200),
    ("/console/members?q=nobody@nowhere.example", 200),
    ("/console/webhooks?subscription=hooks", 200),
    ("/console/statements/00000000-0000-4000-8000-000000000000", 404),  # the error page
    (f"/console/quality/items/{UNKNOWN_LEARNER}:nope", 404),
)


def get_pages(console: Console) -> list[str]:
    return console_pages(console.http.app[console_app_key])


def statement_by(email: str, n: int) -> dict[str, Any]:
    return {
        "actor": {"objectType": "Agent", "mbox": f"mailto:{email}"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en": "completed"}},
        "object": {"objectType": "Activity", "id": f"https://lms.example.com/course/{n}"},
        "result": {"score": {"scaled": 0.8}, "completion": True},
    }


async def seed(console: Console) -> Seeded:
    """Something on every page: statements projected to a member and held for an unknown
    learner, an identity conflict, LTI registrations, dead letters, an import with a rejected
    row, a marketplace client, an app's consent and grant, and a set-password link."""
    await import_members(console, ("E1", "learner1@example.com"))
    ids = await post_statements(
        console,
        [
            statement_by("learner1@example.com", 1),
            statement_by("stranger@example.com", 2),
            statement_by("shared@example.com", 3),
        ],
    )
    await market(console).worker.drain()
    await import_members(console, ("E2", "shared@example.com"), ("E3", "shared@example.com"))
    lti = console.http.app[lti_app_key]
    store = lti[lti_stores_key].registrations
    await register_tool(store, name="Quiz tool", jwks_url="https://tool.example/jwks")
    await register_consumer(store, lti[vault_key], name="Legacy LMS", key="legacy/1")
    await dead_letters(console, "hooks", 1, 2)
    await market(console).stores.import_runs.add_run(
        ImportRun(
            id="hris-1",
            kind=IDENTITIES,
            file_name="hris.csv",
            actor="cli:ops",
            started_us=1_700_000_000_000_000,
            finished_us=1_700_000_002_000_000,
            accepted=7,
            present=0,
            rejected=1,
            rejections=(("line 3", "employee_id: missing"),),
        )
    )
    link = await console.accounts.create("newbie", "viewer", actor="cli")
    await console.operator("ada")
    await console.login("ada")
    await console.post_form(
        "/console/clients",
        {"name": "talent app", "scopes": ["read:scores"]},
        from_page="/console/clients",
    )
    app = await new_app(console)
    assert (await consent(console, app)).status == 302  # a grant on the grants page
    asked = await console.http.get(
        f"{V1}/oauth/authorize?{authorize_query(app)}", allow_redirects=False
    )
    return Seeded(
        statement_id=ids[0],
        member_id="E1",
        quality_item=f"{UNKNOWN_LEARNER}:{ids[1]}",
        consent_url=asked.headers["Location"],
        set_password_url=f"/console/set-password?token={link.token}",
    )


def url_of(canonical: str, seeded: Seeded) -> str:
    if canonical in SAMPLES:
        return SAMPLES[canonical](seeded)
    assert "{" not in canonical, f"give {canonical} a real id from the seeded data in SAMPLES"
    return canonical


def problems_of(url: str, status: int, page: str) -> list[str]:
    """The page's problems, each prefixed with where it was found."""
    assert "<html" in page, (url, status)
    return [f"{url} ({status}): {problem}" for problem in problems(page)]


def assert_accessible(url: str, status: int, page: str) -> None:
    found = problems_of(url, status, page)
    assert not found, "\n".join(found)


async def test_every_console_page_passes_the_markup_checks(console: Console) -> None:
    seeded = await seed(console)
    pages = get_pages(console)
    assert {"/console/", "/console/statements/{id}", "/console/grants"} <= set(pages)
    checked, found = 0, []
    for canonical in pages:
        if canonical in PUBLIC:
            continue
        url = url_of(canonical, seeded)
        status, page = await console.page(url)
        assert status == 200, (url, page)
        assert SHOWS.get(canonical, "") in page, (url, SHOWS[canonical])
        found += problems_of(url, status, page)
        checked += 1
    for url, expected in VARIANTS:
        status, page = await console.page(url)
        assert status == expected, (url, page)
        found += problems_of(url, status, page)
    assert not found, "\n".join(found)
    assert checked == len(pages) - len(PUBLIC)


async def test_the_pages_before_sign_in_and_a_viewer_s_pages_pass_too(console: Console) -> None:
    seeded = await seed(console)
    await console.http.post(
        "/console/logout",
        data={"csrf_token": csrf_of((await console.page("/console/"))[1])},
    )
    for canonical in sorted(PUBLIC):
        url = url_of(canonical, seeded)
        status, page = await console.page(url)
        assert status == 200, (url, page)
        assert_accessible(url, status, page)
    refused = await console.login("ada", password="not the password at all")
    assert refused.status in (400, 401)
    assert_accessible("failed sign-in", refused.status, await refused.text())
    await console.operator("vic", role="viewer")
    assert (await console.login("vic")).status == 303
    shown, found = 0, []
    for canonical in get_pages(console):
        if canonical in PUBLIC:
            continue
        url = url_of(canonical, seeded)
        status, page = await console.page(url)
        assert status in (200, 403), (url, page)  # 403: an admin's page, shown as an error page
        found += problems_of(url, status, page)
        shown += status == 200
    assert not found, "\n".join(found)
    assert shown >= 10


async def test_a_refused_form_names_its_error_accessibly(console: Console) -> None:
    await console.operator("ada")
    await console.login("ada")
    response = await console.post_form(
        "/console/clients", {"name": "", "scopes": []}, from_page="/console/clients"
    )
    assert response.status == 400
    page = await response.text()
    assert 'role="alert"' in page
    assert_accessible("refused client form", response.status, page)


GOOD = (
    '<!doctype html><html lang="en"><body><a href="#main">Skip to content</a>'
    '<main id="main"><h1>Title</h1>{}</main></body></html>'
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('<input id="q" name="q">', 'form control <input id="q" name="q"> has no label'),
        ('<label for="q"></label><input id="q">', "has no label"),
        ("<table><tr><th>A</th></tr></table>", "neither a caption nor an aria-label"),
        ('<table aria-label="t"><tr><td>A</td></tr></table>', "no header cells"),
        ('<table aria-label="t"><tr><th>A</th></tr></table>', "'A' of table"),
        ('<svg class="chart"><rect/></svg>', 'is not a role="img"'),
        ('<svg role="img"><rect/></svg>', 'is not a role="img"'),
        ('<img src="x.png">', "has no alt"),
        ("<h1>Second</h1>", "2 <h1> elements"),
        ('<a href="/x"></a>', "has no text"),
        ("<button></button>", "has no text"),
        ('<a href="/x" tabindex="3">x</a>', "positive tabindex"),
        ('<p class="error">Bad</p>', "neither in a role=alert"),
        ('<p id="a">1</p><p id="a">2</p>', "used twice"),
        ('<div aria-labelledby="nothing"><input aria-labelledby="gone"></div>', "has no label"),
    ],
)
def test_the_checks_find_each_problem(body: str, expected: str) -> None:
    found = problems(GOOD.format(body))
    assert any(expected in p for p in found), found


def test_the_checks_accept_what_is_right_and_find_page_level_problems() -> None:
    right = (
        '<label for="q">Find</label><input id="q"><label>Tick <input type="checkbox"></label>'
        '<input aria-label="Search">'
        '<table><caption>Rows</caption><thead><tr><th scope="col">A</th></tr></thead></table>'
        '<svg role="img" aria-labelledby="t"><title id="t">Chart</title></svg>'
        '<button aria-label="Revoke k1">Revoke</button><a href="/x"><img src="i" alt="Home"></a>'
        '<p class="error" role="alert">Bad</p><p class="error" id="e">Bad</p>'
        '<input aria-describedby="e" aria-label="field">'
    )
    assert problems(GOOD.format(right)) == []
    assert "<html> has no lang attribute" in problems(GOOD.replace(' lang="en"', "").format(""))
    no_skip = GOOD.replace('<a href="#main">Skip to content</a>', "").format('<a href="/">x</a>')
    assert "the first element in the tab order is not a skip link" in problems(no_skip)
    wrong = GOOD.replace('href="#main"', 'href="#top"').format("")
    assert any("not the <main> element" in p for p in problems(wrong))


def test_the_tab_order_skips_hidden_disabled_and_negative_tabindex() -> None:
    page = parse(
        '<a href="#m">s</a><input type="hidden"><input disabled><div tabindex="-1"></div>'
        '<div tabindex="0"></div><a>no href</a><select></select>'
    )
    assert [e.tag for e in focusable(page)] == ["a", "div", "select"]
