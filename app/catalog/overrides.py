"""Operator overrides: one TOML file (its path comes from ``IMAGEGATE_CATALOG_FILE``).

::

    disabled_providers = ["xai"]                 # provider slugs
    disabled_models = ["openai/gpt-image-1-mini"]

    [[prices]]                                   # replace one endpoint's pricing lines
    model = "openai/gpt-image-1.5"
    provider = "openai"                          # provider slug
    lines = [{ billable = "output_image", unit = "token", cost_usd = "0.00003",
               source = "contract", as_of = 2026-11-01 }]

    [[endpoints]]                                # an OpenAI-compatible image API
    model = "acme/sdxl-local"                    # new id, or an existing one (adds an endpoint)
    name = "Acme: SDXL"                          # new model: name and created are required
    created = 2026-11-01
    provider_slug = "fake-provider"              # pick one from the OpenRouter SDK's list
    provider_name = "Local SDXL"
    adapter = "openai"
    base_url = "http://127.0.0.1:9000/v1"
    upstream_model = "sdxl"
    # … then the same keys as a [[models]] entry: parameters, geometry, pricing, …

    [[endpoints]]                                # a model hosted on Runware, by its AIR
    model = "sourceful/riverflow-v2-max-preview"
    adapter = "runware"                          # no base_url: the configured Runware account
    upstream_model = "sourceful:2@3"
    # … provider_slug, provider_name, name, created, parameters, geometry, pricing, …

Applied in this order: endpoints are added, then prices replaced (so added endpoints can be
re-priced too), then models and providers are disabled. Every name must exist; nothing is
guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from app.catalog.assembly import Assembly
from app.catalog.catalog import CatalogError
from app.catalog.entries import (
    EntryError,
    build_endpoint,
    build_pricing,
    describe,
    read_toml,
    split_entry,
)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OverridesFile(_Strict):
    disabled_providers: list[str] = Field(default_factory=list)
    disabled_models: list[str] = Field(default_factory=list)
    prices: list[dict[str, Any]] = Field(default_factory=list)
    endpoints: list[dict[str, Any]] = Field(default_factory=list)


class PriceOverride(_Strict):
    model: str
    provider: str
    lines: list[Any]


# Adapters whose added endpoints may omit base_url and use the configured provider account.
ACCOUNT_ADAPTERS = frozenset({"runware"})


class AddedProvider(_Strict):
    """The provider half of an ``[[endpoints]]`` entry.

    Two adapters can serve a model the operator names: ``openai`` (any OpenAI-compatible image
    server, at its own ``base_url``) and ``runware`` (any model hosted on Runware, by its AIR
    in ``upstream_model``). A ``runware`` entry without ``base_url`` uses the configured Runware
    account (``RUNWARE_API_KEY``, ``IMAGEGATE_RUNWARE_BASE_URL``, the simulator when simulating).
    """

    provider_slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    provider_name: str = Field(min_length=1)
    # Adapters for servers the operator names: OpenAI-compatible servers, Azure AI Foundry
    # resources (each deployment its own endpoint: base_url, key, upstream_model = deployment),
    # and Runware-hosted models (upstream_model = the model's AIR id; base_url optional).
    adapter: Literal["openai", "azure_mai", "runware"]
    base_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s/]+(/\S*)?$", validate_default=True
    )
    # Name of the environment variable that holds this server's API key (none: no auth).
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @field_validator("base_url")
    @classmethod
    def _own_server_needs_a_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Only adapters in ``ACCOUNT_ADAPTERS`` have a configured default location; every
        other added endpoint is a server of the operator's own, so its URL is required."""
        if value is None and info.data.get("adapter") not in ACCOUNT_ADAPTERS:
            raise PydanticCustomError("missing", "Field required")
        return value


@dataclass(frozen=True, slots=True)
class Disabled:
    """What the overrides file switches off; the loader applies it last."""

    models: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()


def apply_overrides(path: Path, assembly: Assembly) -> Disabled:
    """Add endpoints and replace prices from the file at ``path``; CatalogError on any problem.

    Returns what is to be disabled, every name already checked against the catalog.
    """
    label = str(path)
    try:
        spec = OverridesFile.model_validate(read_toml(path, label))
    except ValidationError as exc:
        raise CatalogError(f"{label}: " + "; ".join(describe(exc))) from None
    for i, raw in enumerate(spec.endpoints):
        where = f"{label}: endpoints.{i} (model {raw.get('model')!r})"
        with _context(where):
            _add_endpoint(raw, where, assembly)
    for i, raw in enumerate(spec.prices):
        model, provider = raw.get("model"), raw.get("provider")
        with _context(f"{label}: prices.{i} (model {model!r}, provider {provider!r})"):
            _replace_prices(raw, assembly)
    problems = assembly.check_known(spec.disabled_models, spec.disabled_providers)
    if problems:
        raise CatalogError(f"{label}: disabled_*: " + "; ".join(problems))
    return Disabled(tuple(spec.disabled_models), tuple(spec.disabled_providers))


@contextmanager
def _context(where: str) -> Iterator[None]:
    """Prefix field-level problems raised inside with the file and entry."""
    try:
        yield
    except EntryError as exc:
        raise CatalogError(f"{where}: {exc}") from None
    except ValidationError as exc:
        raise CatalogError(f"{where}: " + "; ".join(describe(exc))) from None


def _add_endpoint(raw: dict[str, Any], where: str, assembly: Assembly) -> None:
    entry = dict(raw)
    if "id" in entry:
        raise EntryError(["id: name the model with `model` in [[endpoints]]"])
    entry["id"] = entry.pop("model", None)
    if not isinstance(entry["id"], str):
        raise EntryError(["model: a model id (author/slug) is required"])
    provider_keys = {k: entry.pop(k) for k in list(entry) if k in AddedProvider.model_fields}
    provider = AddedProvider.model_validate(provider_keys)
    fields, endpoint_raw = split_entry(entry)
    sibling = assembly.sibling(entry["id"], provider.adapter)
    if "token_budgets" not in endpoint_raw and sibling is not None and sibling.token_budgets:
        # Another deployment of a model the catalog knows uses that model's token maxima.
        endpoint_raw["token_budgets"] = [
            b.model_dump(mode="json", exclude_defaults=True) for b in sibling.token_budgets
        ]
    endpoint = build_endpoint(endpoint_raw, provider.model_dump())
    assembly.add(where, fields, endpoint)


def _replace_prices(raw: dict[str, Any], assembly: Assembly) -> None:
    override = PriceOverride.model_validate(raw)
    assembly.locate(override.model, override.provider)
    lines = build_pricing(override.lines, "lines")
    assembly.replace_pricing(override.model, override.provider, lines)
