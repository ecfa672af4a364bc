"""Request latency and API errors per route, for `/metrics` (Prometheus, `prometheus-client`).

The root app's outermost middleware times every request (sub-applications' included) and
files it under its route *template* (`/marketplace/v1/members/{member_id}/learning`, never
the raw path, so the number of series is bounded by the routes; a path no route matches is
`unmatched`), its method (the standard ones, else `other`) and its status class (`2xx`...):

    lrs_http_request_duration_seconds{method, route, status_class}   histogram
    lrs_http_request_errors_total{method, route, status}             4xx and 5xx answers

The work is O(1) per request whatever its body holds (two clock reads, a dict lookup of the
cached series, a bucket search): a batch of 100 statements costs what one does. A request the
client abandoned counts as status 499. These series are per process (each `lrs serve`
process is scraped on its own); what the worker does is counted in the store
(`projections.slo_metrics`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter, Histogram

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
UNMATCHED = "unmatched"
CLIENT_CLOSED = 499

Observe = Callable[[float], None]


def route_of(request: web.Request) -> str:
    """The route template the request matched (`unmatched` when none did)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


class RequestMetrics:
    """The per-process request series, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._latency = Histogram(
            "lrs_http_request_duration_seconds",
            "Time to answer a request, by route template and status class.",
            ("method", "route", "status_class"),
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self._errors = Counter(
            "lrs_http_request_errors",
            "Requests answered with a 4xx or 5xx status, by route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self._series: dict[tuple[str, str, int], tuple[Observe, Callable[[], None] | None]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request (the labelled children are cached: `labels()` takes a lock)."""
        key = (method if method in METHODS else "other", route, status)
        series = self._series.get(key)
        if series is None:
            latency = self._latency.labels(key[0], route, f"{status // 100}xx").observe
            error = self._errors.labels(key[0], route, str(status)).inc if status >= 400 else None
            series = self._series.setdefault(key, (latency, error))
        series[0](seconds)
        if series[1] is not None:
            series[1]()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Time the request and count it under its route and status."""
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            raise
        finally:
            self.observe(request.method, route_of(request), status, time.perf_counter() - started)
