"""LTI 1.1 `lis_result_sourcedid` values the platform issues and can verify.

A sourcedId names one result: a consumer key, a resource link and a learner. The platform mints
it (through `POST /lti/1.1/sourcedids` or `lrs lti sourcedid`) for the launcher to put into the
launch, and accepts it back only if its MAC verifies, so a tool cannot make up another learner's
sourcedId; an outcome request must also be signed with the consumer key the sourcedId names.

Form: base64url(JSON ["v1", consumer key, resource link id, user id]) "." base64url(MAC), the MAC
being the first 16 bytes of HMAC-SHA256 under the vault's sourcedId subkey, compared in
constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import orjson

from lrs.errors import BadRequest
from lti.vault import SOURCED_ID, Vault, b64url, unb64url

_MAC_BYTES = 16
MAX_PART = 1024


@dataclass(frozen=True)
class ResultRef:
    """What a sourcedId names."""

    consumer_key: str
    resource_link_id: str
    user_id: str


class SourcedIds:
    """Mints and verifies sourcedIds with the vault."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def mint(self, ref: ResultRef) -> str:
        """The sourcedId for a result."""
        for part in (ref.consumer_key, ref.resource_link_id, ref.user_id):
            if not isinstance(part, str) or not part or len(part) > MAX_PART:
                raise BadRequest(
                    f"consumer key, resource link id and user id are strings of 1-{MAX_PART} "
                    "characters"
                )
        payload = orjson.dumps(["v1", ref.consumer_key, ref.resource_link_id, ref.user_id])
        mac = self._vault.sign(SOURCED_ID, payload)[:_MAC_BYTES]
        return f"{b64url(payload)}.{b64url(mac)}"

    def verify(self, sourced_id: str) -> ResultRef | None:
        """The result a sourcedId names, or None when it is not one this platform issued."""
        encoded, _, mac_text = sourced_id.strip().partition(".")
        try:
            payload, mac = unb64url(encoded), unb64url(mac_text)
        except ValueError:
            return None
        expected = self._vault.sign(SOURCED_ID, payload)[:_MAC_BYTES]
        if not hmac.compare_digest(expected, mac):
            return None
        try:
            version, key, link, user = orjson.loads(payload)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            return None
        if version != "v1":
            return None
        return ResultRef(consumer_key=key, resource_link_id=link, user_id=user)
