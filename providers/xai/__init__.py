"""xAI image API adapter (Grok Imagine: ``/images/generations`` and the JSON ``/images/edits``).
Roles: ``translate`` (pure), ``errors`` (pure error mapping), ``wire`` (lenient upstream models),
``adapter`` (httpx I/O)."""

from providers.xai.adapter import XaiAdapter

__all__ = ["XaiAdapter"]
