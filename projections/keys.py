"""Every aiohttp AppKey of the marketplace projection, in one place."""

from __future__ import annotations

from aiohttp import web

from projections.service import Projection
from projections.settings import ProjectionSettings

projection_key = web.AppKey("projection", Projection)
projection_settings_key = web.AppKey("projection_settings", ProjectionSettings)
