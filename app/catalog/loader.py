"""Load ``providers/*/models.toml`` (plus optional operator overrides) into a :class:`Catalog`.

File layout (see any shipped ``models.toml``)::

    [provider]                 slug / name / adapter shared by every entry of the file
    [[models]]                 one public model served by this provider (one endpoint)
    [models.parameters]        capability descriptors of this endpoint
    [models.geometry]          how it sizes its output
    [[models.pricing]]         its pricing lines (cost_usd as a decimal *string*)

Files are read in sorted directory order and entries in file order; that order is the
catalog's order. The same model id may appear in several files: each adds one endpoint, and
the model-level fields (name, description, created, modalities) must agree.

Any problem raises :class:`CatalogError` naming the file, the model and the field, e.g.
``providers/bfl/models.toml: model 'black-forest-labs/flux.2-pro': pricing.0.cost_usd: …``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

import providers
from app.catalog.assembly import Assembly
from app.catalog.catalog import Catalog, CatalogError
from app.catalog.entries import (
    PROVIDER_KEYS,
    EntryError,
    build_endpoint,
    describe,
    read_toml,
    split_entry,
)
from app.catalog.overrides import Disabled, apply_overrides

Adapter = Literal["openai", "google", "bfl", "recraft", "bytedance", "xai", "azure_mai", "runware"]
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


class ProviderHeader(BaseModel):
    """The ``[provider]`` table of a provider file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    slug: str = Field(pattern=SLUG_PATTERN)  # OpenRouter provider slug (provider.options key)
    name: str = Field(min_length=1)
    adapter: Adapter


def default_providers_dir() -> Path:
    """The directory of the installed ``providers`` package."""
    return Path(providers.__file__).resolve().parent


def load_catalog(providers_dir: Path | None = None, overrides: Path | None = None) -> Catalog:
    """Read every ``<providers_dir>/*/models.toml``, apply ``overrides``, validate, freeze."""
    root = (providers_dir or default_providers_dir()).resolve()
    files = sorted(root.glob("*/models.toml"))
    if not files:
        raise CatalogError(f"{root}: no */models.toml files found")
    assembly = Assembly()
    seen_slugs: dict[str, str] = {}
    for path in files:
        label = _label(path, root.parent)
        slug = _load_provider_file(path, label, assembly)
        if slug in seen_slugs:
            raise CatalogError(
                f"{label}: provider.slug: {slug!r} is already used by {seen_slugs[slug]}"
            )
        seen_slugs[slug] = label
    disabled = apply_overrides(overrides, assembly) if overrides is not None else Disabled()
    assembly.disable(disabled.models, disabled.providers)
    return assembly.build()


def _load_provider_file(path: Path, label: str, assembly: Assembly) -> str:
    data = read_toml(path, label)
    extra = sorted(set(data) - {"provider", "models"})
    if extra:
        raise CatalogError(
            f"{label}: unexpected top-level keys {extra}; expected [provider] and [[models]]"
        )
    try:
        header = ProviderHeader.model_validate(data.get("provider"))
    except ValidationError as exc:
        raise CatalogError(f"{label}: " + "; ".join(describe(exc, "provider"))) from None
    entries = data.get("models")
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{label}: models: at least one [[models]] entry is required")
    provider = {
        "provider_slug": header.slug,
        "provider_name": header.name,
        "adapter": header.adapter,
    }
    for index, raw in enumerate(entries):
        where = f"{label}: {_entry_name(raw, index)}"
        try:
            _add_entry(raw, provider, where, assembly)
        except EntryError as exc:
            raise CatalogError(f"{where}: {exc}") from None
    return header.slug


def _add_entry(raw: object, provider: Mapping[str, Any], where: str, assembly: Assembly) -> None:
    if not isinstance(raw, dict):
        raise EntryError(["(entry): must be a table"])
    misplaced = sorted(PROVIDER_KEYS & set(raw))
    if misplaced:
        raise EntryError(
            [f"{key}: set by the file's [provider] table, not per model" for key in misplaced]
        )
    fields, endpoint_raw = split_entry(raw)
    endpoint = build_endpoint(endpoint_raw, provider)
    assembly.add(where, fields, endpoint)


def _entry_name(raw: object, index: int) -> str:
    model_id = raw.get("id") if isinstance(raw, dict) else None
    return f"model {model_id!r}" if isinstance(model_id, str) else f"models.{index} (no id)"


def _label(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)
