"""Discovery endpoints, judged by the official Python SDK."""

from __future__ import annotations

import httpx
import pytest
from openrouter import OpenRouter
from openrouter import errors as or_errors
from openrouter.components import BooleanCapability, EnumCapability, RangeCapability

from app.catalog import load_catalog
from app.generation.adapters import FACTORIES
from tests.conftest import SimServer
from tests.servers import ServerThread

CATALOG = load_catalog()
KNOWN = (EnumCapability, RangeCapability, BooleanCapability)
# What a gateway with every provider configured can serve: the models with an adapter.
SERVABLE = [m for m in CATALOG.models() if any(e.adapter in FACTORIES for e in m.endpoints)]


def _client(gateway: ServerThread) -> OpenRouter:
    # no key: OpenRouter's own curl examples call the listing endpoints without one
    return OpenRouter(api_key=None, server_url=f"{gateway.url}/api/v1")


def test_sdk_lists_every_servable_model_with_typed_descriptors(
    sim_gateway: ServerThread,
) -> None:
    with _client(sim_gateway) as client:
        listed = client.images.list_models()
    assert [m.id for m in listed.data] == [m.id for m in SERVABLE]
    assert len(listed.data) >= 8
    for item in listed.data:
        spec = CATALOG.get(item.id)
        assert spec is not None
        assert item.name == spec.name and isinstance(item.description, str)
        assert item.architecture.output_modalities == list(spec.output_modalities)
        assert item.architecture.output_modalities[0] == "image"
        assert item.endpoints == f"/api/v1/images/models/{item.id}/endpoints"
        assert item.supports_streaming == any(e.supports_streaming for e in spec.endpoints)
        assert item.supported_parameters, item.id
        for name, desc in item.supported_parameters.items():
            assert isinstance(desc, KNOWN), (item.id, name, desc)


def test_sdk_lists_every_endpoint(sim_gateway: ServerThread) -> None:
    with _client(sim_gateway) as client:
        for model in SERVABLE:
            author, slug = model.id.split("/", 1)
            resp = client.images.list_model_endpoints(author=author, slug=slug)
            assert resp.id == model.id
            assert len(resp.endpoints) == len(model.endpoints)
            for got, spec in zip(resp.endpoints, model.endpoints, strict=True):
                assert got.provider_slug == spec.provider_slug
                assert got.provider_name == spec.provider_name
                assert got.provider_tag == spec.provider_slug
                assert got.allowed_passthrough_parameters == list(spec.passthrough)
                assert got.supports_streaming == spec.supports_streaming
                assert len(got.pricing) == len(spec.pricing) > 0
                for line, spec_line in zip(got.pricing, spec.pricing, strict=True):
                    assert line.unit == spec_line.unit and line.billable == spec_line.billable
                    assert line.cost_usd == pytest.approx(float(spec_line.cost_usd))
                assert set(got.supported_parameters) == set(spec.parameters)
                for desc in got.supported_parameters.values():
                    assert isinstance(desc, KNOWN), (model.id, desc)


def test_descriptor_values_round_trip(sim_gateway: ServerThread) -> None:
    model = CATALOG.get("openai/gpt-image-1.5")
    assert model is not None
    body = httpx.get(
        f"{sim_gateway.url}/api/v1/images/models/openai/gpt-image-1.5/endpoints"
    ).json()
    params = body["endpoints"][0]["supported_parameters"]
    expected = model.endpoints[0].parameters
    for name, desc in expected.items():
        assert params[name] == desc.model_dump(mode="json")


@pytest.mark.parametrize("path", ["nobody/nothing", "openai/gpt-image-1.5:free", "openai/dall-e-3"])
def test_unknown_model_is_404(base_gateway: ServerThread, path: str) -> None:
    with _client(base_gateway) as client:
        author, slug = path.split("/", 1)
        with pytest.raises(or_errors.NotFoundResponseError):
            client.images.list_model_endpoints(author=author, slug=slug)


def test_ids_with_dots_and_colons_route(base_gateway: ServerThread) -> None:
    dotted = [m.id for m in CATALOG.models() if "." in m.id.split("/", 1)[1]]
    assert dotted, "the catalog should have ids with dots"
    for model_id in dotted:
        resp = httpx.get(
            f"{base_gateway.url}/api/v1/images/models/{model_id}/endpoints",
            params={"include_unavailable": "true"},
        )
        assert resp.status_code == 200 and resp.json()["id"] == model_id
    # a colon is routed to the lookup (and is simply unknown here), not to a 404 route miss
    resp = httpx.get(
        f"{base_gateway.url}/api/v1/images/models/google/gemini-2.5-flash-image:free/endpoints"
    )
    assert (
        resp.status_code == 404 and "gemini-2.5-flash-image:free" in resp.json()["error"]["message"]
    )


def test_without_credentials_nothing_is_offered(base_gateway: ServerThread) -> None:
    """No provider key: discovery lists no model, and each model's endpoints say why."""
    with _client(base_gateway) as client:
        assert client.images.list_models().data == []
        with pytest.raises(or_errors.NotFoundResponseError) as caught:
            client.images.list_model_endpoints(author="openai", slug="gpt-image-1.5")
    assert "no credentials configured" in caught.value.message


def test_include_unavailable_shows_the_whole_catalog(base_gateway: ServerThread) -> None:
    url = f"{base_gateway.url}/api/v1/images/models"
    data = httpx.get(url, params={"include_unavailable": "true"}).json()["data"]
    assert [m["id"] for m in data] == [m.id for m in CATALOG.models()]
    assert not any(m["available"] for m in data)
    endpoints = httpx.get(
        f"{url}/openai/gpt-image-1.5/endpoints", params={"include_unavailable": "true"}
    ).json()["endpoints"]
    assert [e["available"] for e in endpoints] == [False]
    assert "no credentials configured" in endpoints[0]["unavailable_reason"]


def test_a_configured_provider_is_offered(sim_gateway: ServerThread, simulators: SimServer) -> None:
    url = f"{sim_gateway.url}/api/v1/images/models"
    listed = {m["id"] for m in httpx.get(url).json()["data"]}
    assert "openai/gpt-image-1.5" in listed
    every = httpx.get(url, params={"include_unavailable": "true"}).json()["data"]
    assert {m["id"] for m in every if m["available"]} == listed
