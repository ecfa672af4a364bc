"""Every page of the console asks for a session: an anonymous GET is sent to the login page and
an anonymous POST is refused, whatever the route (the act pages included)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from lrs.keys import console_app_key
from tests.console.conftest import Console

PUBLIC = ("/console/login", "/console/set-password")
ACT_PAGES = ("/console/webhooks", "/console/quality", "/console/conflicts", "/console/clients")


async def test_every_route_needs_a_session(console: Console) -> None:
    routes = [
        (route.method, re.sub(r"\{[^}]+\}", "x", route.resource.canonical))
        for route in console.http.app[console_app_key].router.routes()
        if route.resource is not None and route.method in ("GET", "POST")
    ]
    paths = {path for _, path in routes}
    assert set(ACT_PAGES) <= paths
    checked = 0
    for method, path in routes:
        if path in PUBLIC or path.startswith("/console/static"):
            continue
        response = await console.http.request(method, path, allow_redirects=False)
        if method == "GET":
            assert response.status == 303, path
            login = urlsplit(response.headers["Location"])
            assert login.path == "/console/login", path
            assert parse_qs(login.query).get("next", [path]) == [path], path
        else:
            assert response.status == 403, path
        checked += 1
    assert checked >= 2 * len(ACT_PAGES)
