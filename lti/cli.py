"""`lrs lti ...`: register LTI 1.3 tools and LTI 1.1 consumer keys, mint sourcedIds."""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from lrs.cli_support import with_backend
from lrs.errors import BadRequest
from lrs.settings import Settings
from lrs.store.base import Backend
from lti.registry import disable_consumer, disable_tool, register_consumer, register_tool
from lti.scopes import AGS_SCOPES, parse_scopes
from lti.settings import LTISettings
from lti.sourcedids import ResultRef, SourcedIds
from lti.store import open_lti_stores
from lti.store.base import RegistrationStore, Tool
from lti.urls import configured_base
from lti.vault import load_vault


class LTICommandConfig(Protocol):
    """What the LTI commands read of the process configuration (`lrs.config.Config`).

    A structural type, so that this package does not import the composition root's config
    (which imports every package's settings).
    """

    @property
    def core(self) -> Settings: ...

    @property
    def lti(self) -> LTISettings: ...


def register(commands: Any) -> None:
    """Add `lrs lti` and its subcommands."""
    lti = commands.add_parser("lti", help="LTI grade passback: tools, consumer keys, sourcedIds")
    actions = lti.add_subparsers(dest="lti_action", required=True, metavar="ACTION")

    tool = actions.add_parser("register-tool", help="register an LTI 1.3 tool for AGS")
    tool.add_argument("--name", required=True, help="who the tool is")
    tool.add_argument("--client-id", help="the OAuth client id (default: a new UUID)")
    keys = tool.add_mutually_exclusive_group(required=True)
    keys.add_argument("--jwks-url", help="URL of the tool's JWK Set")
    keys.add_argument("--public-key", type=Path, help="file holding the tool's PEM or JWK key")
    tool.add_argument(
        "--deployment-id", action="append", default=[], help="a deployment id (repeatable)"
    )
    tool.add_argument(
        "--scopes",
        default="all",
        help="AGS scopes the tool may be granted, space-separated, full or short "
        "(lineitem, lineitem.readonly, result.readonly, score); default all: "
        + " ".join(AGS_SCOPES),
    )
    _common(tool)
    tool.set_defaults(func=_register_tool)

    listing = actions.add_parser("list-tools", help="list LTI 1.3 tools and their URLs")
    listing.add_argument("--json", action="store_true", help="print JSON, for scripts")
    listing.set_defaults(func=_list_tools)

    consumer = actions.add_parser(
        "register-consumer", help="mint an LTI 1.1 consumer key and secret (secret shown once)"
    )
    consumer.add_argument("--name", required=True, help="who the tool is")
    consumer.add_argument("--key", help="the consumer key (default: a new random key)")
    _common(consumer)
    consumer.set_defaults(func=_register_consumer)

    consumers = actions.add_parser("list-consumers", help="list LTI 1.1 consumer keys")
    consumers.add_argument("--json", action="store_true", help="print JSON, for scripts")
    consumers.set_defaults(func=_list_consumers)

    for name, what, func in (
        ("disable-tool", "TOOL_ID", _disable_tool),
        ("disable-consumer", "KEY", _disable_consumer),
    ):
        disabling = actions.add_parser(
            name,
            help=f"refuse an LTI {'1.3 tool' if what == 'TOOL_ID' else '1.1 consumer key'} "
            "from now on (its grades so far stay)",
        )
        disabling.add_argument("target", metavar=what)
        disabling.set_defaults(func=func)

    sourced = actions.add_parser(
        "sourcedid", help="mint the lis_result_sourcedid for a learner's launch (LTI 1.1)"
    )
    sourced.add_argument("--consumer-key", required=True)
    sourced.add_argument("--resource-link-id", required=True)
    sourced.add_argument("--user-id", required=True, help="the LTI user_id of the learner")
    sourced.add_argument("--json", action="store_true", help="print JSON, for scripts")
    sourced.set_defaults(func=_sourced_id)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user-home-page",
        help="account.homePage of learners in statements (default LRS_LTI_USER_HOME_PAGE, "
        "else the public base URL)",
    )
    parser.add_argument(
        "--passing-threshold",
        type=float,
        help="scaled score (0.0-1.0) at or above which a final grade is `passed`",
    )
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")


def _urls(settings: Settings, tool: Tool) -> dict[str, str]:
    base = configured_base(settings)
    return {
        "issuer": base,
        "token_url": f"{base}/lti/token",
        "jwks_url": f"{base}/lti/jwks",
        "lineitems_url": f"{base}/lti/tools/{tool.id}/lineitems",
    }


def _tool_row(settings: Settings, tool: Tool) -> dict[str, Any]:
    return {
        "tool_id": tool.id,
        "client_id": tool.client_id,
        "name": tool.name,
        "deployment_ids": list(tool.deployment_ids),
        "scopes": list(tool.scopes),
        "tool_jwks_url": tool.jwks_url,
        "public_key": bool(tool.public_key),
        "user_home_page": tool.user_home_page,
        "passing_threshold": tool.passing_threshold,
        "disabled_at": tool.disabled_at,
        **_urls(settings, tool),
    }


def _print(rows: dict[str, Any] | list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows))
        return
    for row in rows if isinstance(rows, list) else [rows]:
        for name, value in row.items():
            if value not in (None, [], ""):
                shown = " ".join(value) if isinstance(value, list) else value
                print(f"{name + ':':18} {shown}")
        print()


def _register_tool(args: argparse.Namespace, config: LTICommandConfig) -> int:
    settings = config.core

    async def job(backend: Backend) -> int:
        registrations = (await open_lti_stores(backend)).registrations
        tool = await register_tool(
            registrations,
            name=args.name,
            client_id=args.client_id,
            jwks_url=args.jwks_url,
            public_key=args.public_key.read_text() if args.public_key else None,
            deployment_ids=tuple(args.deployment_id),
            scopes=_scopes(args.scopes),
            user_home_page=args.user_home_page,
            passing_threshold=args.passing_threshold,
        )
        _print(_tool_row(settings, tool), args.json)
        return 0

    return with_backend(settings, job)


def _scopes(text: str) -> tuple[str, ...]:
    try:
        return parse_scopes(text)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def _list_tools(args: argparse.Namespace, config: LTICommandConfig) -> int:
    settings = config.core

    async def job(backend: Backend) -> int:
        registrations = (await open_lti_stores(backend)).registrations
        _print([_tool_row(settings, t) for t in await registrations.list_tools()], args.json)
        return 0

    return with_backend(settings, job)


def _register_consumer(args: argparse.Namespace, config: LTICommandConfig) -> int:
    settings = config.core

    async def job(backend: Backend) -> int:
        registrations = (await open_lti_stores(backend)).registrations
        vault = load_vault(config.lti, settings.data_dir)
        new = await register_consumer(
            registrations,
            vault,
            name=args.name,
            key=args.key,
            user_home_page=args.user_home_page,
            passing_threshold=args.passing_threshold,
        )
        row = {
            "consumer_key": new.consumer.key,
            "secret": new.secret,
            "name": new.consumer.name,
            "outcome_service_url": f"{configured_base(settings)}/lti/1.1/outcomes",
        }
        _print(row, args.json)
        if not args.json:
            print("The secret is shown only now; it is stored encrypted (see docs/lti.md).")
        return 0

    return with_backend(settings, job)


def _list_consumers(args: argparse.Namespace, config: LTICommandConfig) -> int:
    settings = config.core

    async def job(backend: Backend) -> int:
        registrations = (await open_lti_stores(backend)).registrations
        rows = [
            {
                "consumer_key": c.key,
                "name": c.name,
                "user_home_page": c.user_home_page,
                "passing_threshold": c.passing_threshold,
                "created_at": c.created_at,
                "disabled_at": c.disabled_at,
            }
            for c in await registrations.list_consumers()
        ]
        _print(rows, args.json)
        return 0

    return with_backend(settings, job)


def _disable_tool(args: argparse.Namespace, config: LTICommandConfig) -> int:
    return _disable(config, "tool", args.target, disable_tool)


def _disable_consumer(args: argparse.Namespace, config: LTICommandConfig) -> int:
    return _disable(config, "consumer key", args.target, disable_consumer)


def _disable(
    config: LTICommandConfig,
    what: str,
    target: str,
    disabling: Callable[[RegistrationStore, str], Awaitable[str]],
) -> int:
    async def job(backend: Backend) -> int:
        at = await disabling((await open_lti_stores(backend)).registrations, target)
        print(f"{what} {target} disabled (since {at})")
        return 0

    return with_backend(config.core, job)


def _sourced_id(args: argparse.Namespace, config: LTICommandConfig) -> int:
    settings = config.core

    async def job(backend: Backend) -> int:
        registrations = (await open_lti_stores(backend)).registrations
        if await registrations.get_consumer(args.consumer_key) is None:
            print(f"error: no consumer key {args.consumer_key}")
            return 1
        vault = load_vault(config.lti, settings.data_dir)
        ref = ResultRef(args.consumer_key, args.resource_link_id, args.user_id)
        row = {
            "lis_result_sourcedid": SourcedIds(vault).mint(ref),
            "lis_outcome_service_url": f"{configured_base(settings)}/lti/1.1/outcomes",
        }
        _print(row, args.json)
        return 0

    return with_backend(settings, job)
