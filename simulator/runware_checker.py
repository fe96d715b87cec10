"""The job a valid ``imageInference`` task describes, and the checker that finds a task's first
problem (a :class:`TaskError`, 400, ``parameter`` set). Shared by ``runware_tasks`` and
``runware_fields``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from simulator.render import ImageFormat
from simulator.runware_errors import TaskError
from simulator.runware_images import DecodedImage
from simulator.runware_models import RunwareModel

ImageLookup = Callable[[str], bytes | None]


@dataclass
class InferenceJob:
    """A valid task, ready to render."""

    task_uuid: str
    model: RunwareModel
    prompt: str
    width: int
    height: int
    tier: str
    number_results: int = 1
    output_types: tuple[str, ...] = ("URL",)
    output_format: ImageFormat = "jpeg"
    output_quality: int = 95
    include_cost: bool = False
    asynchronous: bool = False
    thinking: str | None = None
    transparent: bool = False
    check_content: bool = False
    references: list[DecodedImage] = field(default_factory=list)

    @property
    def unit_cost(self) -> Decimal:
        """USD for one image of this task (§8)."""
        return self.model.price(self.tier, self.thinking)


class Checker:
    """Raises the first problem of one task as a TaskError carrying its taskUUID."""

    def __init__(self, task: Mapping[str, Any], strict: bool, lookup: ImageLookup) -> None:
        self.task = task
        self.strict = strict
        self.lookup = lookup
        raw = task.get("taskUUID")
        self.uuid = raw if isinstance(raw, str) else None

    def fail(self, code: str, message: str, parameter: str) -> TaskError:
        return TaskError(code, message, parameter=parameter, task_uuid=self.uuid)

    def invalid(self, parameter: str, message: str) -> TaskError:
        return self.fail("invalidParameter", message, parameter)

    def unknown_keys(
        self, obj: Mapping[str, Any], known: frozenset[str] | set[str], where: str
    ) -> None:
        if not self.strict:
            return
        for key in obj:
            if key not in known:
                name = f"{where}.{key}" if where else key
                raise self.fail("unsupportedParameter", f"Unsupported parameter: '{name}'.", name)

    def enum(self, parameter: str, value: object, allowed: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise self.invalid(
                parameter, f"Invalid value for '{parameter}'. Allowed: {', '.join(allowed)}."
            )
        return value

    def boolean(self, parameter: str, value: object) -> bool:
        if not isinstance(value, bool):
            raise self.invalid(parameter, f"'{parameter}' must be a boolean.")
        return value

    def integer(self, parameter: str, value: object, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.invalid(parameter, f"'{parameter}' must be an integer from {low} to {high}.")
        return value

    def obj(self, parameter: str, value: object) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.invalid(parameter, f"'{parameter}' must be an object.")
        return value

    def items(self, parameter: str, value: object, low: int, high: int) -> list[Any]:
        if not isinstance(value, list):
            raise self.invalid(parameter, f"'{parameter}' must be an array.")
        if not low <= len(value) <= high:
            raise self.invalid(
                parameter, f"'{parameter}' must have {low} to {high} items, got {len(value)}."
            )
        return value

    def string(self, parameter: str, value: object) -> str:
        if not isinstance(value, str) or not value:
            raise self.invalid(parameter, f"'{parameter}' must be a non-empty string.")
        return value
