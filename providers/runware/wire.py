"""Lenient models of what the Runware task API sends back.

Only the fields the adapter uses are declared; the rest is ignored. Bodies are parsed with
decimal floats (see :func:`providers.runware.translate.load_answer`), so ``cost`` arrives here
as the exact :class:`~decimal.Decimal` Runware wrote. Response and errors as Runware's
documentation shows them (notes compiled 2026-11).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def _text(value: object) -> object:
    """Codes and messages are strings; a number or other scalar is read as its text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return None
    return str(value)


class TaskError(_Lenient):
    """One item of ``errors`` (or the ``error`` of the pre-stream envelope).

    https://runware.ai/docs/platform/errors
    """

    code: str | None = None
    message: str | None = None
    parameter: str | None = None
    task_type: str | None = Field(default=None, alias="taskType")
    task_uuid: str | None = Field(default=None, alias="taskUUID")

    @field_validator("code", "message", "parameter", "task_type", "task_uuid", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        return _text(value)


class ImageResult(_Lenient):
    """One item of ``data`` for an ``imageInference`` task (one per image).

    https://runware.ai/docs/image-inference/introduction (response)
    """

    task_type: str | None = Field(default=None, alias="taskType")
    task_uuid: str | None = Field(default=None, alias="taskUUID")
    image_uuid: str | None = Field(default=None, alias="imageUUID")
    image_url: str | None = Field(default=None, alias="imageURL")
    image_base64: str | None = Field(default=None, alias="imageBase64Data")
    image_data_uri: str | None = Field(default=None, alias="imageDataURI")
    nsfw: bool | None = Field(default=None, alias="NSFWContent")
    cost: Decimal | None = None
    status: str | None = None

    @field_validator("cost", mode="before")
    @classmethod
    def _cost(cls, value: object) -> object:
        return None if isinstance(value, bool) else value


class Answer(_Lenient):
    """A whole answer: ``{"data": [...], "errors": [...]}``, or the pre-stream envelope
    ``{"error": {...}, "taskUUID", "taskType"}``.

    https://runware.ai/docs/platform/errors
    """

    data: list[dict[str, Any]] = Field(default_factory=list)
    errors: list[TaskError] = Field(default_factory=list)
    error: TaskError | None = None
    task_uuid: str | None = Field(default=None, alias="taskUUID")
    task_type: str | None = Field(default=None, alias="taskType")

    @field_validator("data", "errors", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        return [] if value is None else value

    @field_validator("error", mode="before")
    @classmethod
    def _error_text(cls, value: object) -> object:
        return {"message": value} if isinstance(value, str) else value

    def all_errors(self) -> list[TaskError]:
        """``errors``, plus the pre-stream ``error`` with its envelope's task ids filled in."""
        found = list(self.errors)
        if self.error is not None:
            found.append(
                self.error.model_copy(
                    update={
                        "task_uuid": self.error.task_uuid or self.task_uuid,
                        "task_type": self.error.task_type or self.task_type,
                    }
                )
            )
        return found
