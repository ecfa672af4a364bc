"""The SCORM sub-application: its two routes, its error middleware, and its service.

`create_scorm_app(settings)` builds the app the root mounts at `PREFIX`. The root hands it the
core services under the `lrs.keys` keys, then runs `scorm_services(app)`, which builds the
ScormService on them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from lrs.keys import backend_key, document_service_key, settings_key, statement_service_key
from lrs.middlewares import error_middleware
from scorm_adapter.http import PREFIX
from scorm_adapter.http.attempts import ATTEMPTS_PATH, COMMIT_PATH, answering, commit, open_attempt
from scorm_adapter.http.redaction import redact_commit_tokens
from scorm_adapter.keys import scorm_service_key, scorm_settings_key
from scorm_adapter.service import ScormService
from scorm_adapter.settings import ScormSettings
from scorm_adapter.store import open_attempt_store
from scorm_adapter.tokens import TokenSigner, load_signing_key

__all__ = ["PREFIX", "create_scorm_app", "scorm_services"]


def create_scorm_app(settings: ScormSettings) -> web.Application:
    """The runtime endpoint's routes (relative to PREFIX); handlers answer in the runtime shape."""
    redact_commit_tokens()
    app = web.Application(middlewares=[error_middleware])
    app[scorm_settings_key] = settings
    app.router.add_post(ATTEMPTS_PATH, answering(open_attempt, basic_realm=True))
    app.router.add_post(COMMIT_PATH, answering(commit))
    return app


async def scorm_services(app: web.Application) -> AsyncIterator[None]:
    """Build the ScormService on the core services the root set on `app`."""
    settings, scorm = app[settings_key], app[scorm_settings_key]
    key = load_signing_key(scorm.signing_key, scorm.key_path(settings.data_dir))
    backend = app[backend_key]
    app[scorm_service_key] = ScormService(
        app[statement_service_key],
        app[document_service_key],
        await open_attempt_store(backend),
        backend.credentials,
        TokenSigner(key),
        token_ttl_s=scorm.token_ttl_s,
        max_value_factor=scorm.max_value_factor,
    )
    yield
