"""The service's Prometheus metrics: requests, latency, verdicts, fallbacks (text at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

#: Latency buckets (seconds): a CPU engine answers in seconds, a GPU one in tens of milliseconds.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """One service's counters, in a registry of their own (tests run several services)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "fin_factory_requests", "Requests by endpoint and HTTP status.",
            ["endpoint", "status"], registry=self.registry,
        )  # fmt: skip
        self._latency = Histogram(
            "fin_factory_request_seconds", "Time from request to recorded answer.",
            ["endpoint"], buckets=_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self._verdicts = Counter(
            "fin_factory_verdicts", "Answers by verdict (passed or the first failing verifier).",
            ["verdict"], registry=self.registry,
        )  # fmt: skip
        self._fallbacks = Counter(
            "fin_factory_fallbacks", "Answers sent to human review, by reason.",
            ["reason"], registry=self.registry,
        )  # fmt: skip

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        self._requests.labels(endpoint, str(status)).inc()
        self._latency.labels(endpoint).observe(seconds)

    def verdict(self, name: str) -> None:
        self._verdicts.labels(name).inc()

    def fallback(self, reason: str) -> None:
        self._fallbacks.labels(reason).inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)
