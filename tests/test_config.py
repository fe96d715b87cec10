"""Provider credentials and base URLs come from the variables their users already have."""

from __future__ import annotations

import pytest

from app.config import ProviderSettings, Settings

CASES = [
    ("openai", "OPENAI_API_KEY", "IMAGEGATE_OPENAI_BASE_URL"),
    ("google", "GEMINI_API_KEY", "IMAGEGATE_GOOGLE_BASE_URL"),
    ("bfl", "BFL_API_KEY", "IMAGEGATE_BFL_BASE_URL"),
    ("recraft", "RECRAFT_API_KEY", "IMAGEGATE_RECRAFT_BASE_URL"),
    ("bytedance", "ARK_API_KEY", "IMAGEGATE_BYTEDANCE_BASE_URL"),
    ("xai", "XAI_API_KEY", "IMAGEGATE_XAI_BASE_URL"),
    ("azure_mai", "AZURE_AI_API_KEY", "IMAGEGATE_AZURE_MAI_BASE_URL"),
    ("runware", "RUNWARE_API_KEY", "IMAGEGATE_RUNWARE_BASE_URL"),
]


@pytest.mark.parametrize(("adapter", "key_var", "url_var"), CASES)
def test_each_provider_reads_its_own_variables(
    monkeypatch: pytest.MonkeyPatch, adapter: str, key_var: str, url_var: str
) -> None:
    for _, k, u in CASES:
        monkeypatch.delenv(k, raising=False)
        monkeypatch.delenv(u, raising=False)
    monkeypatch.setenv(key_var, f"secret-{adapter}")
    monkeypatch.setenv(url_var, f"http://proxy.internal/{adapter}")
    providers = ProviderSettings()
    secret = providers.key_for(adapter)
    assert secret is not None and secret.get_secret_value() == f"secret-{adapter}"
    assert providers.base_url_for(adapter) == f"http://proxy.internal/{adapter}"
    assert f"secret-{adapter}" not in repr(providers)  # never printed
    others = [a for a, _, _ in CASES if a != adapter]
    assert all(providers.key_for(a) is None for a in others)


def test_embedded_default_needs_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IMAGEGATE_DATABASE_URL", "IMAGEGATE_REDIS_URL", "IMAGEGATE_MASTER_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.is_sqlite and settings.redis_url is None and settings.master_key is None


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """docker compose passes `${OPENAI_API_KEY:-}` as an empty string: no key, not a key ''."""
    for _, key_var, url_var in CASES:
        monkeypatch.setenv(key_var, "")
        monkeypatch.setenv(url_var, "")
    monkeypatch.setenv("IMAGEGATE_REDIS_URL", "")
    settings = Settings()
    for adapter, _, _ in CASES:
        assert settings.providers.key_for(adapter) is None
    assert settings.providers.azure_mai_base_url is None
    assert settings.providers.openai_base_url == "https://api.openai.com/v1"
    assert settings.redis_url is None
