"""Every aiohttp AppKey and request key of the LRS, in one place."""

from __future__ import annotations

from aiohttp import web

from lrs.auth import Authenticator
from lrs.request_metrics import RequestMetrics
from lrs.services.documents import DocumentService
from lrs.services.statements import StatementService
from lrs.settings import Settings
from lrs.store.base import Backend

settings_key = web.AppKey("settings", Settings)
backend_key = web.AppKey("backend", Backend)
authenticator_key = web.AppKey("authenticator", Authenticator)
statement_service_key = web.AppKey("statement_service", StatementService)
document_service_key = web.AppKey("document_service", DocumentService)
# the root app's request latency and error series (`/metrics`)
request_metrics_key = web.AppKey("request_metrics", RequestMetrics)
# the HMAC key that signs `more` tokens (`lrs.xapi.query_token`)
query_token_key = web.AppKey("query_token_key", bytes)

# the root app's sub-applications, by package (tests reach a package's services through them)
lti_app_key = web.AppKey("lti_app", web.Application)
scorm_app_key = web.AppKey("scorm_app", web.Application)
marketplace_app_key = web.AppKey("marketplace_app", web.Application)
console_app_key = web.AppKey("console_app", web.Application)

# request-scoped: the xAPI version a response announces, once negotiated
version_out_key = web.RequestKey("xapi_version_out", str)
