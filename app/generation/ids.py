"""Generation ids: ``gen-img-<unix seconds>-<random>``, as OpenRouter names image generations."""

from __future__ import annotations

import secrets
import time


def new_generation_id() -> str:
    return f"gen-img-{int(time.time())}-{secrets.token_urlsafe(15)}"
