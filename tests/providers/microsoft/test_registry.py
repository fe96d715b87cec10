"""How the gateway builds the MAI adapter: base URL without a default, key or Entra token,
the simulator path, and why an unconfigured endpoint is unavailable."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.config import ProviderSettings
from app.generation.adapters import AdapterRegistry, simulator_base_url
from app.startup import StartupError, check_catalog
from providers.errors import AuthError, Unavailable
from providers.spec import Completed
from simulator.azure_mai import MaiState, create_app
from tests.providers.microsoft.calls import call, endpoint
from tests.servers import served_simulator

KEY = "registry-key-0123456789"
TOKEN = "registry.entra.token"


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, MaiState]]:
    yield from served_simulator(create_app(api_key=KEY, token=TOKEN))


def settings(**values: str) -> ProviderSettings:
    return ProviderSettings(**values)


def test_the_base_url_has_no_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMAGEGATE_AZURE_MAI_BASE_URL", raising=False)
    assert ProviderSettings().base_url_for("azure_mai") is None
    assert ProviderSettings.default_base_url("azure_mai") is None


def test_the_simulator_serves_the_real_path() -> None:
    assert simulator_base_url("http://127.0.0.1:5/", "azure_mai") == (
        "http://127.0.0.1:5/azure_mai/mai/v1"
    )


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (
            {"AZURE_AI_API_KEY": KEY},
            "Azure: no base URL configured (set IMAGEGATE_AZURE_MAI_BASE_URL)",
        ),
        (
            {"IMAGEGATE_AZURE_MAI_BASE_URL": "https://r.services.ai.azure.com/mai/v1"},
            "Azure: no credentials configured",
        ),
        (
            {},
            "Azure: no credentials configured and no base URL configured "
            "(set IMAGEGATE_AZURE_MAI_BASE_URL)",
        ),
    ],
)
def test_unavailable_reasons(
    client: httpx.AsyncClient, values: dict[str, str], reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AZURE_AI_API_KEY", "AZURE_AI_BEARER_TOKEN", "IMAGEGATE_AZURE_MAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    registry = AdapterRegistry(client, settings(**values))
    assert registry.unavailable_reason(endpoint()) == reason


def test_simulate_mode_needs_no_configuration(client: httpx.AsyncClient) -> None:
    registry = AdapterRegistry(client, settings(), sim_base="http://127.0.0.1:5")
    assert registry.available(endpoint())


@pytest.mark.parametrize(
    ("values", "auth"),
    [
        ({"AZURE_AI_API_KEY": KEY}, "api-key"),
        ({"AZURE_AI_BEARER_TOKEN": TOKEN}, "bearer"),
        ({"AZURE_AI_API_KEY": KEY, "AZURE_AI_BEARER_TOKEN": "ignored"}, "api-key"),
    ],
)
async def test_a_key_or_else_an_entra_token(
    client: httpx.AsyncClient,
    simulator: tuple[str, MaiState],
    values: dict[str, str],
    auth: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AZURE_AI_API_KEY", "AZURE_AI_BEARER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    url, state = simulator
    state.reset()
    providers = settings(IMAGEGATE_AZURE_MAI_BASE_URL=f"{url}/mai/v1", **values)
    registry = AdapterRegistry(client, providers)
    assert registry.available(endpoint())
    found = [event async for event in registry.get(endpoint()).run(call())]
    assert isinstance(found[-1], Completed)
    assert state.log.entries[0]["auth"] == auth


async def test_operator_endpoints_on_one_server_keep_their_own_keys(
    client: httpx.AsyncClient, simulator: tuple[str, MaiState], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two deployments an operator added on the same resource, each with its key variable:
    each call carries its own endpoint's key (the adapter of one is never reused for the
    other)."""
    url, state = simulator
    state.reset()
    monkeypatch.setenv("IMAGEGATE_TEST_MAI_GOOD_KEY", KEY)
    monkeypatch.setenv("IMAGEGATE_TEST_MAI_STALE_KEY", "stale-key-9876543210")
    registry = AdapterRegistry(client, settings())
    good = endpoint(base_url=f"{url}/mai/v1", api_key_env="IMAGEGATE_TEST_MAI_GOOD_KEY")
    stale = endpoint(base_url=f"{url}/mai/v1", api_key_env="IMAGEGATE_TEST_MAI_STALE_KEY")
    found = [event async for event in registry.get(good).run(call(endpoint=good))]
    assert isinstance(found[-1], Completed)
    with pytest.raises(AuthError):
        _ = [event async for event in registry.get(stale).run(call(endpoint=stale))]


async def test_deployments_named_otherwise_are_renamed_on_the_configured_resource(
    client: httpx.AsyncClient, simulator: tuple[str, MaiState], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The MAI ``model`` field is the deployment name, which the customer picks:
    IMAGEGATE_AZURE_MAI_DEPLOYMENTS maps the catalog's default names to the resource's own,
    for the configured resource only (an operator endpoint names its deployment itself)."""
    url, state = simulator
    state.reset()
    state.config.deployments = {
        "mai-25-prod": "MAI-Image-2.5",
        "MAI-Image-2.5-Pro": "MAI-Image-2.5-Pro",
    }
    monkeypatch.setenv("AZURE_AI_API_KEY", KEY)
    monkeypatch.setenv("IMAGEGATE_AZURE_MAI_BASE_URL", f"{url}/mai/v1")
    monkeypatch.setenv("IMAGEGATE_AZURE_MAI_DEPLOYMENTS", '{"MAI-Image-2.5": "mai-25-prod"}')
    registry = AdapterRegistry(client, ProviderSettings())
    found = [event async for event in registry.get(endpoint()).run(call())]
    assert isinstance(found[-1], Completed)
    assert state.log.entries[-1]["body"]["model"] == "mai-25-prod"
    # a model the map does not name keeps its default deployment name
    pro = endpoint("microsoft/mai-image-2.5-pro")
    found = [event async for event in registry.get(pro).run(call(endpoint=pro))]
    assert state.log.entries[-1]["body"]["model"] == "MAI-Image-2.5-Pro"
    # an operator's own endpoint is sent to the deployment it names, unrenamed
    own = endpoint(base_url=f"{url}/mai/v1", api_key_env="AZURE_AI_API_KEY")
    with pytest.raises(Unavailable):  # the resource has no deployment called MAI-Image-2.5
        _ = [event async for event in registry.get(own).run(call(endpoint=own))]
    assert state.log.entries[-1]["body"]["model"] == "MAI-Image-2.5"


def test_a_misspelt_deployment_key_stops_the_start_in_one_line() -> None:
    with pytest.raises(StartupError) as info:
        check_catalog(None, {"MAI-Image-25": "mai-25-prod"})
    message = str(info.value)
    assert "unknown deployment name(s) MAI-Image-25" in message and "MAI-Image-2.5," in message
    with pytest.raises(StartupError, match=r"an empty new name for MAI-Image-2\.5"):
        check_catalog(None, {"MAI-Image-2.5": " "})
    check_catalog(None, {"MAI-Image-2.6-Flash": "flash"})  # a known name passes
