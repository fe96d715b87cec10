"""Prometheus metrics, one registry per app (no module-level state)."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


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
        self.generations.labels(model, label, status).inc()
        if status == "succeeded":
            self.images.labels(model, label).inc(images)
            self.cost.labels(model, label).inc(float(cost))
            self.latency.labels(label).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
