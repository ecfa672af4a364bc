"""`lrs marketplace apps` and `lrs marketplace grants`: delegated OAuth from the command line.

lrs marketplace apps create --name N --redirect-uri URI [--redirect-uri URI ...]
                            --scopes "S ..." [--public] [--json]
                                        register an app; a confidential app's secret is
                                        printed once (a public one has none: PKCE only)
lrs marketplace apps list [--json]      apps, their redirect URIs and scopes (never a secret)
lrs marketplace apps revoke ID          the app and every token of it stop
lrs marketplace grants list [--app ID] [--limit N] [--json]
                                        what operators authorised, newest first
lrs marketplace grants revoke ID        the grant and every token of it stop (audited)

A bad redirect URI or scope is refused with the reason (`projections.oauth_apps`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from lrs.cli_support import positive_int
from projections.scopes import SCOPES
from projections.service import Projection
from projections.transforms import format_datetime

Job = Callable[[Projection, argparse.Namespace], Awaitable[int]]
Run = Callable[[Job], Callable[..., int]]


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if getattr(args, "json", False) else text)


async def _apps_create(projection: Projection, args: argparse.Namespace) -> int:
    new = await projection.apps.create(
        args.name, args.redirect_uri, args.scopes.split(), public=args.public
    )
    app = new.app
    data = {
        "client_id": app.client_id,
        "client_secret": new.secret,
        "public": app.public,
        "redirect_uris": list(app.redirect_uris),
        "scopes": list(app.scopes),
    }
    secret = (
        f"client_secret: {new.secret}\nThe secret is shown only now; only its hash is stored."
        if new.secret
        else "public app: no secret, it proves itself with PKCE"
    )
    text = (
        f"client_id:     {app.client_id}\nredirect URIs: {' '.join(app.redirect_uris)}\n"
        f"scopes:        {' '.join(app.scopes)}\n{secret}"
    )
    _print(args, data, text)
    return 0


async def _apps_list(projection: Projection, args: argparse.Namespace) -> int:
    apps = await projection.apps.list()
    rows = [
        {
            "client_id": a.client_id,
            "name": a.name,
            "public": a.public,
            "redirect_uris": list(a.redirect_uris),
            "scopes": list(a.scopes),
            "revoked": a.revoked,
            "created_at": format_datetime(a.created_us),
        }
        for a in apps
    ]
    text = "\n".join(
        f"{a.client_id}  {'revoked' if a.revoked else 'active':8} "
        f"{'public' if a.public else 'confidential':12} {a.name}  [{' '.join(a.scopes)}]  "
        f"{' '.join(a.redirect_uris)}"
        for a in apps
    )
    _print(args, rows, text or "no apps")
    return 0


async def _apps_revoke(projection: Projection, args: argparse.Namespace) -> int:
    if await projection.apps.revoke(args.client_id):
        print(f"revoked {args.client_id}: its tokens stop at their next use")
        return 0
    print(f"no app {args.client_id}", file=sys.stderr)
    return 1


async def _grants_list(projection: Projection, args: argparse.Namespace) -> int:
    grants = await projection.grants.list_grants(args.limit, client_id=args.app)
    rows = [
        {
            "grant_id": g.grant_id,
            "client_id": g.client_id,
            "operator": g.operator,
            "scopes": list(g.scopes),
            "created_at": format_datetime(g.created_us),
            "revoked_at": format_datetime(g.revoked_us) if g.revoked_us else None,
            "revoked_reason": g.revoked_reason,
        }
        for g in grants
    ]
    text = "\n".join(
        f"{g.grant_id}  {('revoked (' + str(g.revoked_reason) + ')') if g.revoked else 'active'}"
        f"  {g.client_id}  by {g.operator}  [{' '.join(g.scopes)}]"
        for g in grants
    )
    _print(args, rows, text or "no grants")
    return 0


async def _grants_revoke(projection: Projection, args: argparse.Namespace) -> int:
    if await projection.grants.revoke_grant(args.grant_id, actor="cli", reason="operator"):
        print(f"revoked {args.grant_id}: its access and refresh tokens stop at their next use")
        return 0
    print(f"no live grant {args.grant_id}", file=sys.stderr)
    return 1


def register(sub: Any, _run: Run) -> None:
    """Add `apps` and `grants` under `lrs marketplace`."""
    apps = sub.add_parser("apps", help="apps authorised by operators (authorization code + PKCE)")
    actions = apps.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="register an app (its secret printed once)")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--redirect-uri",
        action="append",
        required=True,
        help="exact redirect URI (repeatable): https, or http on 127.0.0.1 / [::1] / localhost",
    )
    create.add_argument("--scopes", required=True, help=f"space-separated: {' '.join(SCOPES)}")
    create.add_argument("--public", action="store_true", help="no secret: PKCE only")
    create.add_argument("--json", action="store_true", help="print JSON, for scripts")
    create.set_defaults(func=_run(_apps_create))
    listing = actions.add_parser("list", help="list apps (never their secrets)")
    listing.add_argument("--json", action="store_true", help="print JSON, for scripts")
    listing.set_defaults(func=_run(_apps_list))
    revoke = actions.add_parser("revoke", help="revoke an app and its tokens")
    revoke.add_argument("client_id")
    revoke.set_defaults(func=_run(_apps_revoke))

    grants = sub.add_parser("grants", help="what operators authorised apps to do")
    grant_actions = grants.add_subparsers(dest="action", required=True, metavar="ACTION")
    glist = grant_actions.add_parser("list", help="grants, newest first")
    glist.add_argument("--app", metavar="CLIENT_ID", help="only this app's grants")
    glist.add_argument(
        "--limit",
        type=positive_int,
        default=1000,
        help="at most this many, the newest (default 1000)",
    )
    glist.add_argument("--json", action="store_true", help="print JSON, for scripts")
    glist.set_defaults(func=_run(_grants_list))
    grevoke = grant_actions.add_parser("revoke", help="revoke a grant and its tokens")
    grevoke.add_argument("grant_id")
    grevoke.set_defaults(func=_run(_grants_revoke))
