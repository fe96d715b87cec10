"""Generation ids (``gen-img-<unix seconds>-<random>``, as OpenRouter names image generations)
and the doors whose every answer carries one."""

from __future__ import annotations

import secrets
import time


def new_generation_id() -> str:
    return f"gen-img-{int(time.time())}-{secrets.token_urlsafe(15)}"


# The generation doors (POST): each answer names its generation in ``x-generation-id``, and
# may be an event stream. The request log, the OpenAPI document and the fast JSON path
# (``app.api.fast.DOORS``, a subset: the edits doors are multipart) go by this one list.
GENERATION_PATHS = frozenset(
    {
        "/api/v1/images",
        "/api/v1/images/generations",
        "/api/v1/images/edits",
        "/v1/images/generations",
        "/v1/images/edits",
        "/api/v1/chat/completions",
        "/v1/chat/completions",
    }
)
