"""The ProviderError tree: every upstream failure an adapter reports is one of these.

The gateway maps them to OpenRouter error codes and decides on fallback by ``retryable``.
Messages must never contain credentials; adapters build them from the upstream error body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from providers.spec import Usage


class ProviderError(Exception):
    """Base class. ``status_code`` is the upstream HTTP status when there was one.

    ``charge`` is what the provider bills for the failed call, when the adapter knows it does
    (the answer reported usage before failing, or images were delivered and then the call
    broke): the gateway records that spend instead of losing it.
    """

    retryable: bool = False
    # The OpenRouter status the gateway answers with by default for this kind of failure.
    gateway_status: int = 502

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status_code: int | None = None,
        upstream_request_id: str | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        raw: Any = None,
        charge: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.upstream_request_id = upstream_request_id
        self.retry_after = retry_after
        self.code = code
        self.raw = raw
        self.charge = charge

    def __str__(self) -> str:
        return self.message


class AuthError(ProviderError):
    """Our credentials for the provider were rejected (401/403 from upstream).

    Not the caller's fault: answered as 502 so callers see a provider problem, and retryable on
    another endpoint because a different provider has different credentials.
    """

    retryable = True
    gateway_status = 502


class InsufficientCredit(ProviderError):
    """The provider account is out of credit/quota; another endpoint may still work."""

    retryable = True
    gateway_status = 502


class RateLimited(ProviderError):
    """429 from upstream; ``retry_after`` in seconds when the provider said."""

    retryable = True
    gateway_status = 429


class InvalidRequest(ProviderError):
    """The provider rejected the parameters. Deterministic: never retried elsewhere."""

    retryable = False
    gateway_status = 400


class ContentModerated(ProviderError):
    """The prompt, references or output were refused by the provider's safety system."""

    retryable = False
    gateway_status = 403


class Unavailable(ProviderError):
    """5xx, overload, connection failure: transient and retryable."""

    retryable = True
    gateway_status = 502


class UpstreamTimeout(Unavailable):
    """The provider did not answer in time."""

    gateway_status = 524


class ProtocolError(ProviderError):
    """The provider answered something we cannot parse (bad JSON, truncated stream)."""

    retryable = True
    gateway_status = 502
