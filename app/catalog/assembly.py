"""Accumulates validated entries into models, then freezes them into a :class:`Catalog`.

Shared by the provider files and the operator overrides so that both follow one rule set:
a model id may be declared by several files (one endpoint each); model-level fields given
more than once must agree; one provider serves a model at most once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.catalog.catalog import Catalog
from app.catalog.checks import check_endpoint, check_model
from app.catalog.entries import MERGED_KEYS, EntryError, build_model, conflicts
from providers.spec import EndpointSpec, ModelSpec, PricingLine


class Assembly:
    """Mutable while loading; :meth:`build` returns the immutable catalog."""

    def __init__(self) -> None:
        self._models: dict[str, ModelSpec] = {}
        self._origin: dict[str, str] = {}  # model id -> "file: entry" that declared it first

    def slugs(self) -> set[str]:
        return {ep.provider_slug for m in self._models.values() for ep in m.endpoints}

    def add(self, where: str, fields: Mapping[str, Any], endpoint: EndpointSpec) -> None:
        """Add one endpoint; ``fields`` are the model-level keys given with it.

        Raises :class:`EntryError` with field-level problems.
        """
        model_id = str(fields.get("id", ""))
        existing = self._models.get(model_id)
        if existing is None:
            self._store(model_id, build_model(fields, endpoint))
            self._origin[model_id] = where
            return
        if any(ep.provider_slug == endpoint.provider_slug for ep in existing.endpoints):
            raise EntryError(
                [
                    f"provider_slug: {endpoint.provider_slug!r} already serves this "
                    f"model (declared by {self._origin[model_id]})"
                ]
            )
        problems = conflicts(existing, {k: v for k, v in fields.items() if k != "id"})
        if problems:
            raise EntryError(
                [f"{p} (first declared by {self._origin[model_id]})" for p in problems]
            )
        update: dict[str, object] = {"endpoints": (*existing.endpoints, endpoint)}
        for key in MERGED_KEYS & set(fields):
            old: tuple[str, ...] = getattr(existing, key)
            update[key] = (*old, *(m for m in fields[key] if m not in old))
        self._store(model_id, existing.model_copy(update=update))

    def sibling(self, model_id: str, adapter: str) -> EndpointSpec | None:
        """An endpoint of ``model_id`` already served by ``adapter``, if there is one."""
        model = self._models.get(model_id)
        if model is None:
            return None
        return next((ep for ep in model.endpoints if ep.adapter == adapter), None)

    def locate(self, model_id: str, slug: str) -> None:
        """Raise EntryError unless ``model_id`` has an endpoint from provider ``slug``."""
        self._endpoint_index(self._require(model_id), slug)

    def replace_pricing(self, model_id: str, slug: str, lines: tuple[PricingLine, ...]) -> None:
        """Swap one endpoint's pricing lines; raises EntryError for unknown names."""
        model = self._require(model_id)
        index = self._endpoint_index(model, slug)
        old = model.endpoints[index]
        new = old.model_copy(update={"pricing": lines})
        problems = check_endpoint(new)
        if problems:
            raise EntryError([p.replace("pricing", "lines", 1) for p in problems])
        endpoints = list(model.endpoints)
        endpoints[index] = new
        self._models[model_id] = model.model_copy(update={"endpoints": tuple(endpoints)})

    def check_known(self, model_ids: Sequence[str], slugs: Sequence[str]) -> list[str]:
        """Names among these that the catalog does not know (never guess a near match)."""
        known_slugs = self.slugs()
        return [
            *(f"unknown model {m!r}" for m in model_ids if m not in self._models),
            *(
                f"unknown provider slug {s!r}; known: {sorted(known_slugs)}"
                for s in slugs
                if s not in known_slugs
            ),
        ]

    def disable(self, model_ids: Sequence[str], slugs: Sequence[str]) -> None:
        """Drop these models, and these providers' endpoints (a model left with none goes).

        A model that loses every endpoint taking reference images stops advertising the
        ``image`` input modality: the listing shows what the remaining endpoints can serve.
        """
        gone_models, gone_slugs = set(model_ids), set(slugs)
        for model_id, model in list(self._models.items()):
            kept = tuple(ep for ep in model.endpoints if ep.provider_slug not in gone_slugs)
            if model_id in gone_models or not kept:
                del self._models[model_id]
            elif len(kept) != len(model.endpoints):
                update: dict[str, object] = {"endpoints": kept}
                if not any(ep.max_references for ep in kept):
                    update["input_modalities"] = tuple(
                        m for m in model.input_modalities if m != "image"
                    )
                self._models[model_id] = model.model_copy(update=update)

    def build(self) -> Catalog:
        return Catalog(self._models.values())

    def _store(self, model_id: str, model: ModelSpec) -> None:
        problems = check_model(model)
        if problems:
            raise EntryError(problems)
        self._models[model_id] = model

    def _require(self, model_id: str) -> ModelSpec:
        model = self._models.get(model_id)
        if model is None:
            raise EntryError([f"unknown model {model_id!r}"])
        return model

    @staticmethod
    def _endpoint_index(model: ModelSpec, slug: str) -> int:
        for i, ep in enumerate(model.endpoints):
            if ep.provider_slug == slug:
                return i
        served = [ep.provider_slug for ep in model.endpoints]
        raise EntryError(
            [f"model {model.id!r} has no endpoint from provider {slug!r} (served by {served})"]
        )
