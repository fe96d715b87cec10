"""Lenient models of what the Gemini API sends back.

Only the fields the adapter uses are declared; everything else is ignored. Each field is read
under its camelCase name (what the REST API writes) or its snake_case name (proto-JSON allows
both). Enum-like values (``finishReason``, ``blockReason``, ``modality``) are plain strings so
values newer than this code still parse. Shapes as Google's Gemini API documentation shows them
(response, ``finishReason``, prompt feedback, errors; our notes, compiled 2026-10).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Lenient(BaseModel):
    model_config = ConfigDict(
        extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class Blob(_Lenient):
    """``inlineData``: https://ai.google.dev/api/caching#Blob"""

    mime_type: str | None = None
    data: str | None = None


class Part(_Lenient):
    """One part of a candidate: text, an image, or a ``thought: true`` draft.

    https://ai.google.dev/api/caching#Part
    """

    text: str | None = None
    inline_data: Blob | None = None
    thought: bool | None = None


class Content(_Lenient):
    """``content`` of a candidate; ``{}`` (no ``parts``) when it was refused.

    https://ai.google.dev/api/caching#Content
    """

    parts: list[Part] | None = None
    role: str | None = None


class Candidate(_Lenient):
    """https://ai.google.dev/api/generate-content#candidate"""

    content: Content | None = None
    finish_reason: str | None = None
    finish_message: str | None = None
    index: int | None = None


class PromptFeedback(_Lenient):
    """Set when the prompt itself was blocked (HTTP 200, no candidates).

    https://ai.google.dev/api/generate-content#PromptFeedback
    """

    block_reason: str | None = None
    block_reason_message: str | None = None


class ModalityTokenCount(_Lenient):
    """https://ai.google.dev/api/generate-content#ModalityTokenCount"""

    modality: str | None = None
    token_count: int = 0


class UsageMetadata(_Lenient):
    """https://ai.google.dev/api/generate-content#UsageMetadata"""

    prompt_token_count: int | None = None
    candidates_token_count: int | None = None
    total_token_count: int | None = None
    thoughts_token_count: int | None = None
    tool_use_prompt_token_count: int | None = None
    prompt_tokens_details: list[ModalityTokenCount] | None = None
    candidates_tokens_details: list[ModalityTokenCount] | None = None


class GenerateContentResponse(_Lenient):
    """Body of ``:generateContent`` (and each ``:streamGenerateContent`` chunk).

    https://ai.google.dev/api/generate-content#generatecontentresponse
    """

    candidates: list[Candidate] | None = None
    prompt_feedback: PromptFeedback | None = None
    usage_metadata: UsageMetadata | None = None
    model_version: str | None = None
    response_id: str | None = None


class ErrorStatus(_Lenient):
    """The ``error`` object of the Google RPC envelope (``google.rpc.Status`` in JSON).

    ``details`` entries are discriminated by ``@type`` (ErrorInfo, RetryInfo, QuotaFailure…)
    and kept as plain dicts. https://ai.google.dev/gemini-api/docs/troubleshooting
    """

    code: int | None = None
    message: str | None = None
    status: str | None = None
    details: list[dict[str, Any]] = Field(default_factory=list)


class ErrorEnvelope(_Lenient):
    """``{"error": {...}}``. https://cloud.google.com/apis/design/errors#http_mapping"""

    error: ErrorStatus | None = None
