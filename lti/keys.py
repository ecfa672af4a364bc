"""Every aiohttp AppKey of the LTI adapter."""

from __future__ import annotations

from aiohttp import web

from lti.gradebook import Gradebook
from lti.outcomes import OutcomeService
from lti.platform import PlatformKeys
from lti.settings import LTISettings
from lti.sourcedids import SourcedIds
from lti.store import LTIStores
from lti.tokens import TokenService
from lti.vault import Vault

lti_settings_key = web.AppKey("lti_settings", LTISettings)
lti_stores_key = web.AppKey("lti_stores", LTIStores)
vault_key = web.AppKey("lti_vault", Vault)
platform_keys_key = web.AppKey("lti_platform_keys", PlatformKeys)
token_service_key = web.AppKey("lti_token_service", TokenService)
gradebook_key = web.AppKey("lti_gradebook", Gradebook)
outcome_service_key = web.AppKey("lti_outcome_service", OutcomeService)
sourced_ids_key = web.AppKey("lti_sourced_ids", SourcedIds)
