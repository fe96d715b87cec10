"""The model catalog: ``providers/*/models.toml`` plus operator overrides, typed and frozen."""

from app.catalog.catalog import Catalog, CatalogError
from app.catalog.loader import default_providers_dir, load_catalog

__all__ = ["Catalog", "CatalogError", "default_providers_dir", "load_catalog"]
