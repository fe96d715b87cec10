"""ByteDance Seedream on BytePlus ModelArk (``POST /api/v3/images/generations``). Roles:
``translate`` (pure), ``errors`` (pure error mapping), ``wire`` (lenient upstream models),
``adapter`` (httpx I/O)."""

from providers.bytedance.adapter import SeedreamAdapter

__all__ = ["SeedreamAdapter"]
