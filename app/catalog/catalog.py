"""The loaded catalog: an immutable, ordered index of public models."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType

from providers.spec import EndpointSpec, ModelSpec


class CatalogError(Exception):
    """Bad catalog data. The message names the file, the entry and the field."""


class Catalog:
    """Every public model with its endpoints, in a stable order.

    Built once at start-up and never mutated: ``ModelSpec`` values are frozen and the index
    is a read-only mapping. Ids are looked up verbatim, so ``:`` and ``.`` need no care.
    """

    __slots__ = ("_by_id", "_by_name", "_models")

    def __init__(self, models: Iterable[ModelSpec]) -> None:
        ordered = tuple(models)
        by_id: dict[str, ModelSpec] = {}
        for model in ordered:
            if model.id in by_id:
                raise CatalogError(f"model {model.id!r} appears twice")
            by_id[model.id] = model
        by_name: dict[str, tuple[ModelSpec, ...]] = {}
        for model in ordered:
            names = {model.id.split("/", 1)[-1], *(e.upstream_model for e in model.endpoints)}
            for name in names:
                by_name[name] = (*by_name.get(name, ()), model)
        object.__setattr__(self, "_models", ordered)
        object.__setattr__(self, "_by_id", MappingProxyType(by_id))
        object.__setattr__(self, "_by_name", MappingProxyType(by_name))

    _models: tuple[ModelSpec, ...]
    _by_id: Mapping[str, ModelSpec]
    _by_name: Mapping[str, tuple[ModelSpec, ...]]

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Catalog is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Catalog is immutable; cannot delete {name!r}")

    def models(self) -> list[ModelSpec]:
        """All models, in catalog order (provider file order, then file order)."""
        return list(self._models)

    def get(self, model_id: str) -> ModelSpec | None:
        """The model with exactly this public id, or None."""
        return self._by_id.get(model_id)

    def named(self, name: str) -> tuple[ModelSpec, ...]:
        """The models a bare name names, in catalog order: those whose id without its author,
        or one of whose endpoints' upstream model, is ``name``."""
        return self._by_name.get(name, ())

    def endpoint(self, model_id: str, provider_slug: str) -> EndpointSpec | None:
        """One model's endpoint served by ``provider_slug``, or None."""
        model = self._by_id.get(model_id)
        if model is None:
            return None
        return next((e for e in model.endpoints if e.provider_slug == provider_slug), None)

    def provider_slugs(self) -> list[str]:
        """Slugs of the providers serving at least one model, sorted."""
        return sorted({e.provider_slug for m in self._models for e in m.endpoints})

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._by_id

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models)

    def __repr__(self) -> str:
        return f"Catalog({len(self._models)} models, providers={self.provider_slugs()})"
