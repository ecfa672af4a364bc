"""Every aiohttp AppKey of the SCORM sub-application."""

from __future__ import annotations

from aiohttp import web

from scorm_adapter.service import ScormService
from scorm_adapter.settings import ScormSettings

scorm_settings_key = web.AppKey("scorm_settings", ScormSettings)
scorm_service_key = web.AppKey("scorm_service", ScormService)
