"""``GET /api/v1/activity`` (OpenRouter's shape, read by the official SDK), the dashboard's
summary and recent generations, over real HTTP against real Postgres, with ledger rows seeded
at known days."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openrouter import OpenRouter
from openrouter import errors as or_errors

from app.db.engine import make_engine, make_sessionmaker
from app.db.models import Generation
from tests.conftest import MASTER_KEY
from tests.servers import ServerThread

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
YESTERDAY = TODAY - timedelta(days=1)
GPT = "openai/gpt-image-1.5"


@dataclass
class Keys:
    a: str
    a_hash: str
    b: str
    b_hash: str
    admin: str
    flux: str  # a model name unique to this run, so admin-wide views can be checked exactly


def _create(url: str, name: str, admin: bool = False) -> tuple[str, str]:
    resp = httpx.post(
        f"{url}/api/v1/keys",
        json={"name": name, "admin": admin},
        headers={"authorization": f"Bearer {MASTER_KEY}"},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["key"], resp.json()["data"]["hash"]


def _row(key_id: str, at: datetime, cost: str, **kw: Any) -> Generation:
    values: dict[str, Any] = {
        "id": f"gen-act-{secrets.token_hex(8)}",
        "api_key_id": key_id,
        "model": GPT,
        "provider": "openai",
        "status": "succeeded",
        "images": 1,
        "input_text_tokens": 7,
        "input_image_tokens": 3,
        "output_image_tokens": 40,
        "output_text_tokens": 0,
        "cost_usd": Decimal(cost),
        "request_params": {},
        "latency_ms": 1234,
        "created_at": at,
        "completed_at": at,
    }
    values.update(kw)
    return Generation(**values)


async def _insert(database_url: str, rows: list[Generation]) -> None:
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as session, session.begin():
        session.add_all(rows)
    await engine.dispose()


@pytest.fixture(scope="module")
def keys(base_gateway: ServerThread, database_url: str) -> Iterator[Keys]:
    a, a_hash = _create(base_gateway.url, "activity a")
    b, b_hash = _create(base_gateway.url, "activity b")
    admin, _ = _create(base_gateway.url, "activity admin", admin=True)
    flux = f"test/flux-{secrets.token_hex(4)}"
    noon = timedelta(hours=12)
    rows = [
        _row(a_hash, YESTERDAY + noon, "0.1"),
        _row(a_hash, YESTERDAY + noon, "0.2"),
        _row(a_hash, YESTERDAY + noon, "0", status="failed", images=0),
        _row(a_hash, TODAY - timedelta(days=3) + noon, "0.04", model=flux, provider="bfl-test"),
        _row(a_hash, TODAY + timedelta(minutes=1), "0.5"),  # today: not a completed day
        _row(a_hash, TODAY - timedelta(days=40), "7"),  # older than 30 days
        _row(b_hash, YESTERDAY + noon, "0.25", model=flux, provider="bfl-test"),
    ]
    asyncio.run(_insert(database_url, rows))
    yield Keys(a, a_hash, b, b_hash, admin, flux)


def _get(url: str, path: str, key: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{url}{path}", params=params, headers={"authorization": f"Bearer {key}"}, timeout=10
    )


def test_activity_is_openrouters_shape_for_completed_days(
    base_gateway: ServerThread, keys: Keys
) -> None:
    resp = _get(base_gateway.url, "/api/v1/activity", keys.a)
    assert resp.status_code == 200, resp.text
    items = resp.json()["data"]
    # the failed request, today's and the 40-day-old ones are not there
    assert [(i["date"], i["model"], i["requests"], i["usage_usd"]) for i in items] == [
        (YESTERDAY.date().isoformat(), GPT, 2, "0.3"),
        ((TODAY - timedelta(days=3)).date().isoformat(), keys.flux, 1, "0.04"),
    ]
    gpt = items[0]
    assert gpt["usage"] == pytest.approx(0.3)
    assert gpt["provider_name"] == "OpenAI" and gpt["model_permaslug"] == GPT
    assert (gpt["prompt_tokens"], gpt["completion_tokens"]) == (20, 80)
    assert gpt["byok_usage_inference"] == 0 and gpt["cached_tokens"] == 0
    assert gpt["reasoning_tokens"] == 0
    # a model the catalog does not know shows its provider's slug; endpoint ids are stable
    assert items[1]["provider_name"] == "bfl-test"
    again = _get(base_gateway.url, "/api/v1/activity", keys.a).json()["data"]
    assert [i["endpoint_id"] for i in again] == [i["endpoint_id"] for i in items]
    assert items[0]["endpoint_id"] != items[1]["endpoint_id"]


def test_the_official_sdk_parses_activity(base_gateway: ServerThread, keys: Keys) -> None:
    with OpenRouter(api_key=keys.a, server_url=f"{base_gateway.url}/api/v1") as client:
        everything = client.analytics.get_user_activity()
        one_day = client.analytics.get_user_activity(
            request={"date_": YESTERDAY.date().isoformat()}
        )
    assert [(i.model, i.requests) for i in everything.data] == [(GPT, 2), (keys.flux, 1)]
    assert [(i.date_, i.model, i.usage) for i in one_day.data] == [
        (YESTERDAY.date().isoformat(), GPT, pytest.approx(0.3))
    ]


def test_group_by_workspace_tags_every_row_with_the_gateways_one_workspace(
    base_gateway: ServerThread, keys: Keys
) -> None:
    plain = _get(base_gateway.url, "/api/v1/activity", keys.a).json()["data"]
    with OpenRouter(api_key=keys.a, server_url=f"{base_gateway.url}/api/v1") as client:
        grouped = client.analytics.get_user_activity(request={"group_by": "workspace"}).data
    assert [(i.model, i.requests) for i in grouped] == [(i["model"], i["requests"]) for i in plain]
    workspaces = {i.workspace_id for i in grouped}
    assert len(workspaces) == 1 and None not in workspaces
    (workspace,) = workspaces
    assert "workspace_id" not in plain[0]
    same = _get(base_gateway.url, "/api/v1/activity", keys.a, workspace_id=workspace)
    assert [i["model"] for i in same.json()["data"]] == [i["model"] for i in plain]
    other = _get(
        base_gateway.url, "/api/v1/activity", keys.a, workspace_id=str(uuid.uuid4())
    )  # a workspace this gateway does not have: nothing, not everything
    assert other.status_code == 200 and other.json()["data"] == []
    for params in ({"workspace_id": "nope"}, {"group_by": "model"}):
        bad = _get(base_gateway.url, "/api/v1/activity", keys.a, **params)
        assert bad.status_code == 400, bad.text


def test_an_admin_sees_every_key_and_can_narrow_to_one(
    base_gateway: ServerThread, keys: Keys
) -> None:
    everyone = _get(base_gateway.url, "/api/v1/activity", keys.admin).json()["data"]
    flux = [i for i in everyone if i["model"] == keys.flux]
    # a's flux row three days ago and b's yesterday
    assert sorted((i["date"], i["usage_usd"]) for i in flux) == sorted(
        [
            ((TODAY - timedelta(days=3)).date().isoformat(), "0.04"),
            (YESTERDAY.date().isoformat(), "0.25"),
        ]
    )
    only_b = _get(base_gateway.url, "/api/v1/activity", keys.admin, api_key_hash=keys.b_hash)
    assert [(i["model"], i["usage_usd"]) for i in only_b.json()["data"]] == [(keys.flux, "0.25")]


def test_an_ordinary_key_sees_only_its_own(base_gateway: ServerThread, keys: Keys) -> None:
    resp = _get(base_gateway.url, "/api/v1/activity", keys.b)
    assert [i["usage_usd"] for i in resp.json()["data"]] == ["0.25"]
    for path in ("/api/v1/activity", "/api/v1/activity/summary", "/api/v1/activity/generations"):
        other = _get(base_gateway.url, path, keys.b, api_key_hash=keys.a_hash)
        assert other.status_code == 403, (path, other.text)
        assert other.json()["error"]["code"] == 403
        assert _get(base_gateway.url, path, "sk-ig-v1-nope").status_code == 401
    with (
        OpenRouter(api_key=keys.b, server_url=f"{base_gateway.url}/api/v1") as client,
        pytest.raises(or_errors.ForbiddenResponseError),
    ):
        client.analytics.get_user_activity(request={"api_key_hash": keys.a_hash})


def test_api_key_hash_may_be_the_keys_sha256_as_openrouter_defines_it(
    base_gateway: ServerThread, keys: Keys
) -> None:
    """OpenRouter's ``api_key_hash`` is the SHA-256 hex of a key: it names the same key as the
    key's ``hash`` from ``/api/v1/keys``."""
    a_sha, b_sha = (hashlib.sha256(k.encode()).hexdigest() for k in (keys.a, keys.b))
    own = _get(base_gateway.url, "/api/v1/activity", keys.a, api_key_hash=a_sha)
    assert own.status_code == 200, own.text
    assert [i["usage_usd"] for i in own.json()["data"]] == ["0.3", "0.04"]
    only_b = _get(base_gateway.url, "/api/v1/activity", keys.admin, api_key_hash=b_sha.upper())
    assert [(i["model"], i["usage_usd"]) for i in only_b.json()["data"]] == [(keys.flux, "0.25")]
    for path in ("/api/v1/activity", "/api/v1/activity/summary", "/api/v1/activity/generations"):
        assert _get(base_gateway.url, path, keys.b, api_key_hash=b_sha).status_code == 200, path
        assert _get(base_gateway.url, path, keys.b, api_key_hash=a_sha).status_code == 403, path
    with OpenRouter(api_key=keys.b, server_url=f"{base_gateway.url}/api/v1") as client:
        mine = client.analytics.get_user_activity(request={"api_key_hash": b_sha})
    assert [(i.model, i.requests) for i in mine.data] == [(keys.flux, 1)]


@pytest.mark.parametrize(
    "day",
    [
        "2026-13-01",
        "yesterday",
        TODAY.date().isoformat(),  # not completed yet
        (TODAY - timedelta(days=31)).date().isoformat(),
    ],
)
def test_a_date_outside_the_window_is_a_400(
    base_gateway: ServerThread, keys: Keys, day: str
) -> None:
    resp = _get(base_gateway.url, "/api/v1/activity", keys.a, date=day)
    assert resp.status_code == 400, resp.text
    assert "date" in resp.json()["error"]["message"]


def test_the_summary_has_totals_every_day_and_breakdowns(
    base_gateway: ServerThread, keys: Keys
) -> None:
    resp = _get(base_gateway.url, "/api/v1/activity/summary", keys.a, days=7)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    # today's request counts here; the failed one counts as a failure
    assert data["totals"] == {
        "spend_usd": "0.84",
        "requests": 5,
        "images": 4,
        "failures": 1,
        "cancelled": 0,
    }
    assert data["scope"] == "key" and data["days"] == 7
    assert [d["date"] for d in data["by_day"]] == [
        (TODAY - timedelta(days=6 - i)).date().isoformat() for i in range(7)
    ]
    per_day = {d["date"]: (d["spend_usd"], d["requests"]) for d in data["by_day"]}
    assert per_day[YESTERDAY.date().isoformat()] == ("0.3", 3)
    assert per_day[TODAY.date().isoformat()] == ("0.5", 1)
    assert per_day[(TODAY - timedelta(days=5)).date().isoformat()] == ("0", 0)
    assert [(m["model"], m["spend_usd"]) for m in data["by_model"]] == [
        (GPT, "0.8"),
        (keys.flux, "0.04"),
    ]
    assert [(p["provider_name"], p["requests"]) for p in data["by_provider"]] == [
        ("OpenAI", 4),
        ("bfl-test", 1),
    ]
    assert [(k["key_id"], k["name"], k["spend_usd"]) for k in data["by_key"]] == [
        (keys.a_hash, "activity a", "0.84")
    ]


def test_the_admin_summary_lists_keys_by_name(base_gateway: ServerThread, keys: Keys) -> None:
    data = _get(base_gateway.url, "/api/v1/activity/summary", keys.admin).json()["data"]
    assert data["scope"] == "all" and len(data["by_day"]) == 30
    by_key = {k["key_id"]: k for k in data["by_key"]}
    assert by_key[keys.a_hash]["spend_usd"] == "0.84" and by_key[keys.a_hash]["failures"] == 1
    assert by_key[keys.b_hash]["name"] == "activity b"
    assert by_key[keys.b_hash]["label"].startswith("sk-ig-v1-")
    narrowed = _get(
        base_gateway.url, "/api/v1/activity/summary", keys.admin, api_key_hash=keys.b_hash
    ).json()["data"]
    assert narrowed["totals"]["spend_usd"] == "0.25" and narrowed["scope"] == "key"
    too_long = _get(base_gateway.url, "/api/v1/activity/summary", keys.admin, days=0)
    assert too_long.status_code == 400


def test_recent_generations_link_to_their_records(base_gateway: ServerThread, keys: Keys) -> None:
    resp = _get(base_gateway.url, "/api/v1/activity/generations", keys.a, limit=3)
    assert resp.status_code == 200, resp.text
    items = resp.json()["data"]
    assert len(items) == 3
    assert [i["created_at"] for i in items] == sorted(
        (i["created_at"] for i in items), reverse=True
    )
    assert items[0]["cost_usd"] == "0.5" and items[0]["key_name"] == "activity a"
    assert items[0]["provider_name"] == "OpenAI" and items[0]["latency_ms"] == 1234
    record = httpx.get(
        base_gateway.url + items[0]["record"], headers={"authorization": f"Bearer {keys.a}"}
    )
    assert record.status_code == 200 and record.json()["data"]["id"] == items[0]["id"]
    page2 = _get(base_gateway.url, "/api/v1/activity/generations", keys.a, limit=3, offset=3)
    assert {i["id"] for i in page2.json()["data"]}.isdisjoint({i["id"] for i in items})
    # asking for given ids: an empty list (not a 404) for one not recorded, or another key's
    wanted = _get(base_gateway.url, "/api/v1/activity/generations", keys.a, id=items[1]["id"])
    assert [i["id"] for i in wanted.json()["data"]] == [items[1]["id"]]
    missing = _get(base_gateway.url, "/api/v1/activity/generations", keys.b, id=items[1]["id"])
    assert missing.status_code == 200 and missing.json()["data"] == []
