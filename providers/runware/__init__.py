"""Runware task API adapter (``POST /v1`` with a JSON array of tasks): Sourceful's Riverflow
models, and any other Runware-hosted model an operator adds by its AIR. Roles: ``translate``
(pure request/answer mapping), ``dialects`` (per-model field names of the passthrough options),
``errors`` (pure error mapping), ``wire`` (lenient upstream models), ``adapter`` (httpx I/O)."""

from providers.runware.adapter import RunwareAdapter

__all__ = ["RunwareAdapter"]
