"""Every aiohttp AppKey and request key of the console, in one place."""

from __future__ import annotations

from aiohttp import web

from console.accounts import Accounts
from console.sessions import Sessions, Signed
from console.settings import ConsoleSettings

console_settings_key = web.AppKey("console_settings", ConsoleSettings)
accounts_key = web.AppKey("console_accounts", Accounts)
sessions_key = web.AppKey("console_sessions", Sessions)
# the marketplace sub-app, whose projection (status, webhooks, audit log) the console reads
projection_app_key = web.AppKey("console_projection_app", web.Application)
signed_key = web.RequestKey("console_signed", Signed)  # the operator of the request
