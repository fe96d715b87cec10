"""Settings: the only module that reads the environment.

Every setting is listed, with its default, in the README's configuration table.
"""

from __future__ import annotations

import os
from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import orjson
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.db.urls import normalize_database_url

DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "imagegate"


class ProviderSettings(BaseSettings):
    """Provider credentials under the names their users already have, plus base-URL overrides."""

    # an empty variable (docker compose's `${OPENAI_API_KEY:-}`, an empty Secret entry) is unset
    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    gemini_api_key: SecretStr | None = Field(default=None, validation_alias="GEMINI_API_KEY")
    bfl_api_key: SecretStr | None = Field(default=None, validation_alias="BFL_API_KEY")
    recraft_api_key: SecretStr | None = Field(default=None, validation_alias="RECRAFT_API_KEY")
    ark_api_key: SecretStr | None = Field(default=None, validation_alias="ARK_API_KEY")
    xai_api_key: SecretStr | None = Field(default=None, validation_alias="XAI_API_KEY")
    # Azure AI Foundry (Microsoft MAI): a resource key, or a Microsoft Entra ID token instead.
    azure_ai_api_key: SecretStr | None = Field(default=None, validation_alias="AZURE_AI_API_KEY")
    azure_ai_bearer_token: SecretStr | None = Field(
        default=None, validation_alias="AZURE_AI_BEARER_TOKEN"
    )
    runware_api_key: SecretStr | None = Field(default=None, validation_alias="RUNWARE_API_KEY")

    openai_base_url: str = Field(
        default="https://api.openai.com/v1", validation_alias="IMAGEGATE_OPENAI_BASE_URL"
    )
    google_base_url: str = Field(
        default="https://generativelanguage.googleapis.com/v1beta",
        validation_alias="IMAGEGATE_GOOGLE_BASE_URL",
    )
    bfl_base_url: str = Field(
        default="https://api.bfl.ai/v1", validation_alias="IMAGEGATE_BFL_BASE_URL"
    )
    recraft_base_url: str = Field(
        default="https://external.api.recraft.ai/v1", validation_alias="IMAGEGATE_RECRAFT_BASE_URL"
    )
    bytedance_base_url: str = Field(
        default="https://ark.ap-southeast.bytepluses.com/api/v3",
        validation_alias="IMAGEGATE_BYTEDANCE_BASE_URL",
    )
    xai_base_url: str = Field(
        default="https://api.x.ai/v1", validation_alias="IMAGEGATE_XAI_BASE_URL"
    )
    # No default: every Azure customer has their own resource host.
    azure_mai_base_url: str | None = Field(
        default=None,
        validation_alias="IMAGEGATE_AZURE_MAI_BASE_URL",
        examples=["https://<resource>.services.ai.azure.com/mai/v1"],
    )
    runware_base_url: str = Field(
        default="https://api.runware.ai/v1", validation_alias="IMAGEGATE_RUNWARE_BASE_URL"
    )
    # MAI's ``model`` field is the deployment name: a JSON object from each model's default
    # deployment name (``MAI-Image-2.5``, …) to the name it is deployed under on the resource.
    azure_mai_deployments: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        validation_alias="IMAGEGATE_AZURE_MAI_DEPLOYMENTS",
        examples=[{"MAI-Image-2.5": "mai-25-prod"}],
    )

    @field_validator(
        "openai_base_url",
        "google_base_url",
        "bfl_base_url",
        "recraft_base_url",
        "bytedance_base_url",
        "xai_base_url",
        "azure_mai_base_url",
        "runware_base_url",
    )
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        """An http(s) URL with a host, checked at start (``notaurl`` or ``ftp://x`` started
        the gateway and failed every request to that provider). The value is never echoed:
        a proxy's URL may hold credentials."""
        if value is None:
            return None
        url = value.strip()
        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port  # a port that is not a number raises
        except ValueError:
            ok = False
        if not ok:
            raise ValueError("must be an http:// or https:// URL with a host, e.g. https://host/v1")
        return url

    @field_validator("azure_mai_deployments", mode="before")
    @classmethod
    def _deployments_json(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ValueError(
                'must be a JSON object, e.g. {"MAI-Image-2.5": "my-deployment"}'
            ) from None

    def key_for(self, adapter: str) -> SecretStr | None:
        """The credential for an adapter name (``openai``, ``google``, ``bfl``, …)."""
        fields = ADAPTER_FIELDS.get(adapter)
        key: SecretStr | None = getattr(self, fields[0]) if fields else None
        return key

    def token_for(self, adapter: str) -> SecretStr | None:
        """A bearer token (e.g. Microsoft Entra ID) for adapters that take one instead of a key."""
        field = TOKEN_FIELDS.get(adapter)
        token: SecretStr | None = getattr(self, field) if field else None
        return token

    @classmethod
    def base_url_variable(cls, adapter: str) -> str | None:
        """The environment variable of an adapter's base URL, for messages."""
        fields = ADAPTER_FIELDS.get(adapter)
        alias = cls.model_fields[fields[1]].validation_alias if fields else None
        return alias if isinstance(alias, str) else None

    def base_url_for(self, adapter: str) -> str | None:
        fields = ADAPTER_FIELDS.get(adapter)
        url: str | None = getattr(self, fields[1]) if fields else None
        return url

    @classmethod
    def default_base_url(cls, adapter: str) -> str | None:
        """The provider's real base URL (the field's default), whatever the environment says."""
        fields = ADAPTER_FIELDS.get(adapter)
        if fields is None:
            return None
        default = cls.model_fields[fields[1]].default
        return default if isinstance(default, str) else None

    @staticmethod
    def endpoint_key(env_name: str) -> str | None:
        """The key of an operator-added endpoint, from the variable its entry names."""
        return os.environ.get(env_name)


# adapter name -> (credential field, base-URL field) of ProviderSettings
ADAPTER_FIELDS = {
    "openai": ("openai_api_key", "openai_base_url"),
    "google": ("gemini_api_key", "google_base_url"),
    "bfl": ("bfl_api_key", "bfl_base_url"),
    "recraft": ("recraft_api_key", "recraft_base_url"),
    "bytedance": ("ark_api_key", "bytedance_base_url"),
    "xai": ("xai_api_key", "xai_base_url"),
    "azure_mai": ("azure_ai_api_key", "azure_mai_base_url"),
    "runware": ("runware_api_key", "runware_base_url"),
}
# adapter -> bearer-token field of ProviderSettings, used when the adapter's key is unset
TOKEN_FIELDS = {"azure_mai": "azure_ai_bearer_token"}


class Settings(BaseSettings):
    """Gateway settings, read from ``IMAGEGATE_*`` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="IMAGEGATE_", extra="ignore", env_ignore_empty=True
    )

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR / 'imagegate.db'}",
        description="postgres://… (any Postgres form maps to asyncpg) or sqlite:///…",
    )
    redis_url: str | None = Field(default=None, description="redis://…; unset: in-process limits")
    master_key: SecretStr | None = Field(default=None, description="admin key; can do everything")
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = Field(default=48 * 1024 * 1024, ge=1, description="largest request body")
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="request headers must be complete within this time"
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="a request body must arrive within this time (else 408)"
    )
    large_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=0,
        description="bodies above this size need one of large_body_slots to be served",
    )
    large_body_slots: int = Field(
        default=4, ge=1, description="large bodies served at once per process (bounds memory)"
    )
    max_reference_bytes: int = Field(
        default=40 * 1024 * 1024,
        ge=1,
        description="all input references of one request together, decoded (else 413)",
    )
    reference_fetch_slots: int = Field(
        default=16, ge=1, description="reference downloads in flight per process"
    )
    catalog_file: Path | None = Field(default=None, description="operator catalog overrides (TOML)")
    rate_limit_rpm: int = Field(
        default=600, ge=0, description="requests per minute per key on POST /images"
    )
    concurrency_per_key: int = Field(
        default=0, ge=0, description="concurrent generations per key (0: unlimited)"
    )
    provider_wait_s: float = Field(
        default=30.0,
        ge=0,
        description="how long a request may wait for a provider concurrency slot before a 429",
    )
    keepalive_s: float = Field(
        default=3.0, ge=0, description="seconds between keep-alive bytes (0: none are sent)"
    )
    spool_dir: Path = Field(
        default=DEFAULT_DATA_DIR / "spool",
        description="where ledger rows wait (durably) while the database is unreachable",
    )
    disconnect_drain_s: float = Field(
        default=120.0,
        ge=0,
        description="after a client leaves, how long an accepted generation may run on to learn"
        " its cost (then it is settled at its quote)",
    )
    upstream_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="longest wait for a provider's answer (read timeout of each upstream call)",
    )
    reference_allow_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="CIDRs exempt from the SSRF block (testing only)"
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="text: readable lines; json: one JSON object per line"
    )
    migrate_on_start: bool = Field(
        default=False,
        description="`imagegate serve` migrates Postgres itself (under an advisory lock)",
    )
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    simulate: bool = Field(
        default=False,
        validation_alias=AliasChoices("IMAGEGATE_SIMULATE"),
        description="route every provider to the built-in simulators",
    )

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("reference_allow_networks", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        """A JSON list of CIDRs, each checked now: bad JSON was a traceback at start, a bad
        network a 500 on every request with a reference URL."""
        if isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise ValueError('must be a JSON list of CIDRs, e.g. ["10.0.0.0/8"]') from None
        if isinstance(value, list):
            for item in value:
                try:
                    ip_network(str(item))
                except ValueError:
                    raise ValueError(f"{item!r} is not a network (CIDR)") from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        """Parsed as the client will (a bad one was a traceback when the app started); the
        client's messages name the scheme or the port, never the password."""
        if value is None:
            return None
        from redis.connection import parse_url

        try:
            parse_url(value.strip())  # type: ignore[no-untyped-call]
        except ValueError as exc:
            raise ValueError(f"{exc}; expected redis://host:6379/0") from None
        return value.strip()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def get_provider_settings() -> ProviderSettings:
    return ProviderSettings()
