"""OpenAI Images API adapter (``/images/generations``, ``/images/edits``), also used for
operator-added OpenAI-compatible servers. Roles: ``translate`` (pure), ``errors`` (pure error
mapping), ``wire`` (lenient upstream models), ``adapter`` (httpx I/O)."""

from providers.openai.adapter import OpenAIAdapter

__all__ = ["OpenAIAdapter"]
