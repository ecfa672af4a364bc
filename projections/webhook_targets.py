"""Where webhooks may be sent: the policy that keeps the LRS from being a request forger (SSRF).

A subscription names a URL the LRS will POST to from inside the operator's network. Without
a policy, anyone holding an `admin` token could point it at the cloud metadata service or at
an internal host. So:

- refused ALWAYS: link-local addresses (169.254.0.0/16, fe80::/10, which hold the cloud
  metadata services), the known metadata addresses and host names (169.254.169.254,
  fd00:ec2::254, 100.100.100.200, metadata.google.internal, ...), unspecified and multicast
  addresses;
- refused unless `LRS_WEBHOOK_ALLOW_INTERNAL=1` (tests, receivers inside the network):
  `http://` URLs, loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), shared
  (100.64/10) and other non-global addresses, and `localhost`.

The URL is checked when a subscription is made (API and CLI alike go through
`WebhookService.subscribe`): scheme, literal addresses and known names. Host names are
checked again at delivery, on the addresses they resolve to: the dispatcher's HTTP session
resolves through `GuardedResolver` (the event loop's resolver, `loop.getaddrinfo`), which
refuses to hand a forbidden address to the connection, so a name that resolves to a public
address when subscribed and to an internal one later (DNS rebinding) is refused on the
address actually connected to. Redirects are not followed (a 3xx is a failed attempt): a
receiver could otherwise send the dispatcher on to a forbidden address.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

from lrs.errors import BadRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
METADATA_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "metadata.azure.internal", "instance-data"}
)
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, not `is_private`


class WebhookTargetRefused(BadRequest):
    """A webhook URL or address the target policy forbids."""

    code = "webhook_target_refused"


class TargetRefusedError(OSError):
    """A resolved address the policy forbids (an OSError, so aiohttp reports it as a
    connection error and the delivery is retried like any other failed attempt)."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EACCES, message)  # aiohttp's message shows the strerror


def refusal(address: Address, *, allow_internal: bool) -> str | None:
    """Why an address may not receive webhooks, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_unspecified or address.is_multicast:
        return f"{address} is not a unicast address"
    if not allow_internal and (address.is_loopback or address.is_private or address in SHARED):
        return f"{address} is an internal address (LRS_WEBHOOK_ALLOW_INTERNAL=1 allows it)"
    if not allow_internal and not address.is_global:
        return f"{address} is not a public address (LRS_WEBHOOK_ALLOW_INTERNAL=1 allows it)"
    return None


@dataclass(frozen=True)
class TargetPolicy:
    """The webhook target policy; `allow_internal` is `LRS_WEBHOOK_ALLOW_INTERNAL`."""

    allow_internal: bool = False

    def check_url(self, url: str) -> None:
        """WebhookTargetRefused unless the URL's scheme and host (name or literal) may be used."""
        reason = self.url_refusal(url)
        if reason is not None:
            raise WebhookTargetRefused(f"the webhook url is refused: {reason}", field="url")

    def url_refusal(self, url: str) -> str | None:
        """Why the URL may not receive webhooks (before resolution), or None."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").rstrip(".").lower()
        except ValueError:
            return "it is not a URL"
        if parts.scheme != "https" and not self.allow_internal:
            return "only https URLs are allowed (LRS_WEBHOOK_ALLOW_INTERNAL=1 allows http)"
        if host in METADATA_NAMES:
            return f"{host} is a cloud metadata host"
        if not self.allow_internal and (host in LOCAL_NAMES or host.endswith(".localhost")):
            return f"{host} is this machine (LRS_WEBHOOK_ALLOW_INTERNAL=1 allows it)"
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None  # a name: its addresses are checked when it is resolved
        return refusal(address, allow_internal=self.allow_internal)

    def session(self) -> aiohttp.ClientSession:
        """An HTTP session for deliveries whose resolver refuses forbidden addresses."""
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self))
        return aiohttp.ClientSession(connector=connector)


class GuardedResolver(ThreadedResolver):
    """The event loop's resolver, refusing names that resolve to a forbidden address."""

    def __init__(self, policy: TargetPolicy) -> None:
        super().__init__()
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The addresses of `host`; TargetRefusedError if any of them is forbidden."""
        results = await super().resolve(host, port, family)
        for result in results:
            address = ipaddress.ip_address(result["host"].partition("%")[0])
            reason = refusal(address, allow_internal=self._policy.allow_internal)
            if reason is not None:
                raise TargetRefusedError(f"webhook host {host} resolves to {reason}")
        return results
