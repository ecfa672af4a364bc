"""The authority an import sets on the statements it stores, when it does not keep theirs."""

from __future__ import annotations

from typing import Any

from lrs.settings import Settings, authority_home_page


def import_authority(settings: Settings, name: str) -> dict[str, Any]:
    """The authority of imported statements: an Agent shaped like a credential's authority."""
    home_page = authority_home_page(settings)
    return {"objectType": "Agent", "name": name, "account": {"homePage": home_page, "name": name}}
