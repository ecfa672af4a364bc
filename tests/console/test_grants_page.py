"""The console's app-grants page over HTTP: paged newest first through its `more` link (every
grant once, none skipped, ties in creation time included), filtered by app, a bad position a
400 naming it; admins only."""

from __future__ import annotations

import html
import re

from console.grants import PAGE_SIZE
from projections.store.oauth import Grant
from tests.console.conftest import Console
from tests.console.test_oauth_consent import new_app, projection, signed_in

PAGE = "/console/grants"


def grant_ids(page: str) -> list[str]:
    return re.findall(r'<tr id="grant-([^"]+)">', page)


def more_link(page: str) -> str | None:
    found = re.search(r'<a id="more" href="([^"]+)">', page)
    return html.unescape(found.group(1)) if found else None


async def seed(console: Console, count: int) -> tuple[list[Grant], str, str]:
    """`count` grants over two apps, pairs created in the same microsecond; newest first."""
    one, two = (await new_app(console)).app.client_id, (await new_app(console)).app.client_id
    made = [
        Grant(f"grt_{n:04d}", (one, two)[n % 3 == 0], "ada", ("read:scores",), 10**15 + n // 2)
        for n in range(count)
    ]
    for grant in made:
        await projection(console).stores.oauth.add_grant(grant)
    return sorted(made, key=lambda g: (g.created_us, g.grant_id), reverse=True), one, two


async def walk(console: Console, start: str) -> tuple[list[list[str]], list[str]]:
    """Every page from `start` on, following `more`: the grant ids of each, and the links."""
    pages, links, path = [], [], start
    while path:
        status, page = await console.page(path)
        assert status == 200, page
        pages.append(grant_ids(page))
        link = more_link(page)
        links.append(link or "")
        path = link or ""
    return pages, links


async def test_the_grants_page_is_paged_newest_first(console: Console) -> None:
    await signed_in(console)
    newest, _, _ = await seed(console, PAGE_SIZE * 2 + 7)
    pages, _ = await walk(console, PAGE)
    assert [len(p) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 7]
    assert [i for p in pages for i in p] == [g.grant_id for g in newest]


async def test_the_grants_page_shows_one_apps_grants(console: Console) -> None:
    await signed_in(console)
    newest, one, two = await seed(console, PAGE_SIZE * 2 + 7)
    pages, links = await walk(console, f"{PAGE}?app={two}")
    expected = [g.grant_id for g in newest if g.client_id == two]
    assert [i for p in pages for i in p] == expected and len(pages) == 1
    pages, links = await walk(console, f"{PAGE}?app={one}")
    assert [i for p in pages for i in p] == [g.grant_id for g in newest if g.client_id == one]
    assert len(pages) == 2 and links[0].startswith(f"{PAGE}?app={one}&before=")
    _, page = await console.page(f"{PAGE}?app={one}")
    assert f'<option value="{one}" selected>' in page
    status, none = await console.page(f"{PAGE}?app=app_nobody")
    assert status == 200 and grant_ids(none) == [] and "No grants of this app." in none


async def test_a_bad_position_is_a_400_naming_it(console: Console) -> None:
    await signed_in(console)
    for bad in ("x", "12", ".grt_1", "-5.grt_1", "1." + "g" * 300):
        status, page = await console.page(f"{PAGE}?before={bad}")
        assert status == 400 and 'id="error">before:' in page, bad


async def test_other_roles_get_403(console: Console) -> None:
    await signed_in(console, role="viewer")
    assert (await console.page(f"{PAGE}?app=x"))[0] == 403
