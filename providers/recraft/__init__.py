"""Recraft external API adapter (``/v1/images/generations``, ``/v1/images/imageToImage``).
Roles: ``translate`` (pure), ``errors`` (pure error mapping), ``wire`` (lenient upstream
models), ``adapter`` (httpx I/O, result downloads)."""

from providers.recraft.adapter import RecraftAdapter

__all__ = ["RecraftAdapter"]
