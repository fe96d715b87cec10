"""Turn one raw TOML model entry into typed spec objects, collecting field-level errors.

A ``[[models]]`` entry (and an operator's ``[[endpoints]]`` entry) mixes model-level keys
(id, name, …) with endpoint-level keys (upstream_model, parameters, geometry, pricing, …).
The provider keys of the endpoint come from elsewhere (the file's ``[provider]`` table).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from app.catalog.catalog import CatalogError
from app.catalog.checks import check_endpoint
from providers.spec import DESCRIBED_PARAMETERS, EndpointSpec, ModelSpec, PricingLine

MODEL_KEYS = frozenset(
    {"id", "name", "description", "created", "input_modalities", "output_modalities"}
)
PROVIDER_KEYS = frozenset({"provider_slug", "provider_name", "adapter", "base_url"})

_PRICING = TypeAdapter(tuple[PricingLine, ...])
_DESCRIPTOR_TAGS = frozenset({"enum", "range", "boolean"})
_GEOMETRY_TAGS = frozenset({"sizes", "pixels", "ratio"})


class EntryError(Exception):
    """Field-level problems of one entry, each already spelled ``field: message``."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


def describe(exc: ValidationError, prefix: str = "") -> list[str]:
    """``loc: message`` for every error of a pydantic ValidationError."""
    head = [prefix] if prefix else []
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join([*head, *_readable(err["loc"])])
        out.append(f"{loc or '(entry)'}: {err['msg']}")
    return out


def _readable(loc: tuple[int | str, ...]) -> list[str]:
    """Drop the union tags pydantic inserts (``parameters.n.range.max`` -> ``parameters.n.max``)."""
    parts = [str(p) for p in loc]
    return [
        part
        for i, part in enumerate(parts)
        if not (i >= 2 and parts[i - 2] == "parameters" and part in _DESCRIPTOR_TAGS)
        and not (i >= 1 and parts[i - 1] == "geometry" and part in _GEOMETRY_TAGS)
    ]


def unknown_parameters(raw: Mapping[str, Any]) -> list[str]:
    """Descriptor keys that are not public request fields (spec's check, located per key)."""
    params = raw.get("parameters")
    if not isinstance(params, Mapping):
        return []
    allowed = sorted(DESCRIBED_PARAMETERS)
    return [
        f"parameters.{key}: not a request field a descriptor can describe (one of {allowed})"
        for key in params
        if key not in DESCRIBED_PARAMETERS
    ]


def decimal_strings(raw_lines: object, prefix: str) -> list[str]:
    """Money must be written as a decimal string: a TOML float is already binary-rounded."""
    if not isinstance(raw_lines, list):
        return []
    problems = []
    for i, line in enumerate(raw_lines):
        if isinstance(line, Mapping) and "cost_usd" in line:
            value = line["cost_usd"]
            if not isinstance(value, str):
                problems.append(
                    f'{prefix}.{i}.cost_usd: must be a decimal string such as "0.04", '
                    f"not {type(value).__name__} {value!r}"
                )
    return problems


def split_entry(raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Model-level keys and endpoint-level keys of one entry."""
    model = {k: v for k, v in raw.items() if k in MODEL_KEYS}
    endpoint = {k: v for k, v in raw.items() if k not in MODEL_KEYS}
    return model, endpoint


def build_endpoint(raw: Mapping[str, Any], provider: Mapping[str, Any]) -> EndpointSpec:
    """Validate the endpoint half of an entry, with the provider fields merged in."""
    problems = [*unknown_parameters(raw), *decimal_strings(raw.get("pricing"), "pricing")]
    if problems:
        raise EntryError(problems)
    try:
        endpoint = EndpointSpec.model_validate({**raw, **provider})
    except ValidationError as exc:
        raise EntryError(describe(exc)) from None
    problems = check_endpoint(endpoint)
    if problems:
        raise EntryError(problems)
    return endpoint


def build_model(fields: Mapping[str, Any], endpoint: EndpointSpec) -> ModelSpec:
    """Validate the model half of an entry (needs name and created) around one endpoint."""
    try:
        return ModelSpec.model_validate({**fields, "endpoints": [endpoint]})
    except ValidationError as exc:
        raise EntryError(describe(exc)) from None


def build_pricing(raw_lines: object, prefix: str) -> tuple[PricingLine, ...]:
    """Validate a replacement list of pricing lines (operator overrides)."""
    problems = decimal_strings(raw_lines, prefix)
    if problems:
        raise EntryError(problems)
    try:
        lines = _PRICING.validate_python(raw_lines)
    except ValidationError as exc:
        raise EntryError(describe(exc, prefix)) from None
    if not lines:
        raise EntryError([f"{prefix}: at least one pricing line is required"])
    return lines


# Model-level fields a later entry may widen instead of repeating exactly.
MERGED_KEYS = frozenset({"input_modalities", "output_modalities"})


def conflicts(existing: ModelSpec, fields: Mapping[str, Any]) -> list[str]:
    """Model-level fields given again for a known model must equal what is already there.

    Modalities are the exception: a later endpoint may add one (see ``MERGED_KEYS``).
    """
    try:
        given = ModelSpec.model_validate(
            {
                **existing.model_dump(include=set(MODEL_KEYS)),
                **fields,
                "endpoints": existing.endpoints,
            }
        )
    except ValidationError as exc:
        return describe(exc)
    return [
        f"{key}: {getattr(given, key)!r} conflicts with {getattr(existing, key)!r} "
        "already declared for this model"
        for key in sorted(fields)
        if key not in MERGED_KEYS and getattr(given, key) != getattr(existing, key)
    ]


def read_toml(path: Path, label: str) -> dict[str, Any]:
    """Parse a TOML file, turning I/O and syntax errors into CatalogError."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise CatalogError(f"{label}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{label}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{label}: invalid TOML: not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise CatalogError(f"{label}: invalid TOML: arrays or tables nested too deeply") from None
