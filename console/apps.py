"""What the marketplace-apps page does, as plain functions of the projection.

Registering an app here is `lrs marketplace apps create` from a form: the same service
(`projections.oauth_apps.OAuthApps.create`) checks every redirect URI (exact, `https` except on
a loopback host, no wildcard, no fragment) and every scope before it writes anything, keeps a
confidential app's secret only as a scrypt hash (the page shows it this once) and audits
`oauth.app_created` with the operator as its actor. What the form adds: the name's length,
one redirect URI per line, and the choice of kind (public: PKCE only; confidential: a secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from console.accounts import actor_of
from console.forms import ticked
from lrs.errors import BadRequest
from projections.oauth_apps import NewApp
from projections.service import Projection

MAX_NAME = 100
MAX_REDIRECT_URIS = 20
KINDS = ("public", "confidential")


def redirect_uris(text: str) -> list[str]:
    """The URIs typed one per line (blank lines ignored); at most MAX_REDIRECT_URIS."""
    uris = [line.strip() for line in text.splitlines() if line.strip()]
    if len(uris) > MAX_REDIRECT_URIS:
        raise BadRequest(
            f"at most {MAX_REDIRECT_URIS} redirect URIs, one per line", field="redirect_uris"
        )
    return uris


async def register(projection: Projection, form: Mapping[str, Any], operator: str) -> NewApp:
    """A new app from the form; its secret (confidential apps) is in the answer, once."""
    name = str(form.get("name", "")).strip()
    if not name or len(name) > MAX_NAME:
        raise BadRequest(f"an app needs a name of 1 to {MAX_NAME} characters", field="name")
    kind = str(form.get("kind", ""))
    if kind not in KINDS:
        raise BadRequest("choose public (PKCE only) or confidential (a secret)", field="kind")
    uris = redirect_uris(str(form.get("redirect_uris", "")))
    return await projection.apps.create(
        name, uris, ticked(form, "scopes"), public=kind == "public", actor=actor_of(operator)
    )
