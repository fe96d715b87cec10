"""Prometheus metrics, one registry per app (no module-level state)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
_STATUSES = ("succeeded", "failed", "cancelled")


class Metrics:
    """Generation counters, cost and latency, labelled by model, provider and outcome."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.generations = Counter(
            "imagegate_generations",
            "Requests to POST /api/v1/images by outcome",
            ["model", "provider", "status"],
            registry=self.registry,
        )
        self.images = Counter(
            "imagegate_images", "Images returned", ["model", "provider"], registry=self.registry
        )
        # Observability only: the exact amounts are in the ledger.
        self.cost = Counter(
            "imagegate_cost_usd", "USD charged", ["model", "provider"], registry=self.registry
        )
        self.latency = Histogram(
            "imagegate_generation_seconds",
            "Time from request to result",
            ["provider"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._cache: dict[tuple[str, str], tuple[Any, ...]] = {}

    def _children(self, model: str, provider: str) -> tuple[Any, ...]:
        """The labelled series of one model and provider (``labels()`` validates and locks on
        every call; the children it returns are stable, so they are looked up once)."""
        key = (model, provider)
        found = self._cache.get(key)
        if found is None:
            found = (
                {s: self.generations.labels(model, provider, s) for s in _STATUSES},
                self.images.labels(model, provider),
                self.cost.labels(model, provider),
                self.latency.labels(provider),
            )
            self._cache[key] = found
        return found

    def record(
        self,
        *,
        model: str,
        provider: str | None,
        status: str,
        images: int,
        cost: Decimal,
        seconds: float,
    ) -> None:
        label = provider or "none"
        if status not in _STATUSES:
            self.generations.labels(model, label, status).inc()
            return
        generations, image_count, usd, latency = self._children(model, label)
        generations[status].inc()
        if status == "succeeded":
            image_count.inc(images)
            usd.inc(float(cost))
            latency.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
