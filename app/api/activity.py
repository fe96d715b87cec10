"""Spend and activity from the ledger: ``GET /api/v1/activity`` and the dashboard's data.

* ``GET /api/v1/activity`` answers OpenRouter's ``getUserActivity``: one ``ActivityItem`` per UTC
  day × model × endpoint over the last 30 *completed* UTC days (today is left out), optionally one
  ``date``. Failed requests are not counted, as on OpenRouter, unless the provider charged for
  them (that is spend: the key's usage includes it). The gateway has
  one workspace (:data:`WORKSPACE_ID`): ``group_by=workspace`` tags every row with it, and a
  ``workspace_id`` filter naming another matches nothing.
* ``GET /api/v1/activity/summary?days=N`` (the spend dashboard): totals, every day of the last N
  UTC days (today included, days without activity as zeros), and the same figures by model, by
  provider and by key, failures counted. Money is exact decimal strings.
* ``GET /api/v1/activity/generations`` (the dashboard's table): the newest ledger rows first,
  each with the path of its full record (``/api/v1/generation?id=``).

Who sees what. OpenRouter serves activity to management keys only; here every key may ask, and
the answer is scoped: an admin key (or the master key) sees every key's activity and may narrow
it with ``api_key_hash`` (a key's ``hash`` from ``/api/v1/keys``, or the SHA-256 hex of the key
itself, as OpenRouter defines the parameter), an ordinary key sees only its own. A gateway's
users want to see their own spend without holding an admin key.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from app.auth import Principal, authenticate
from app.catalog import Catalog
from app.db import activity as repo
from app.db import keys as key_repo
from app.errors import GatewayError
from app.state import AppState

router = APIRouter(prefix="/api/v1")
Caller = Annotated[Principal, Depends(authenticate)]

ACTIVITY_DAYS = 30
# A gateway has one workspace: every row belongs to it (``group_by=workspace`` tags them, a
# ``workspace_id`` filter for another one matches nothing). Stable across installs.
WORKSPACE_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "imagegate:workspace:default"))
MASTER_NAME = "master key (or a deleted key)"


def usd(amount: Decimal) -> str:
    """An exact USD amount as a plain decimal string, without trailing zeros."""
    text = format(amount.quantize(Decimal("1e-10")), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def utc_midnight(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.ig
    return state


def scope_for(caller: Principal, api_key_hash: str | None) -> repo.Scope:
    """What ``caller`` may see, narrowed to one key when asked."""
    if caller.is_admin:
        if api_key_hash:
            return repo.Scope(key_id=api_key_hash)
        return repo.Scope(key_id=None, everyone=True)
    if api_key_hash and api_key_hash != caller.key_id:
        raise GatewayError(403, "An ordinary API key sees only its own activity")
    return repo.Scope(key_id=caller.key_id)


SHA256_HEX = re.compile(r"[0-9a-f]{64}")


async def key_scope(state: AppState, caller: Principal, api_key_hash: str | None) -> repo.Scope:
    """:func:`scope_for`, where ``api_key_hash`` is a key's ``hash`` from ``/api/v1/keys`` or, as
    OpenRouter defines the parameter, the SHA-256 hex of the key itself."""
    if api_key_hash and SHA256_HEX.fullmatch(api_key_hash.lower()):
        async with state.sessionmaker() as session:
            row = await key_repo.find_by_hash(session, api_key_hash.lower())
        if row is not None:
            api_key_hash = row.id
    return scope_for(caller, api_key_hash)


def provider_name(catalog: Catalog, model: str, slug: str | None) -> str:
    """The endpoint's display name from the catalog, else its slug ("no provider": failed before
    routing)."""
    if not slug:
        return "no provider"
    spec = catalog.get(model)
    if spec is not None:
        for endpoint in spec.endpoints:
            if endpoint.provider_slug == slug:
                return endpoint.provider_name
    return slug


def endpoint_id(model: str, provider: str | None) -> str:
    """A stable UUID per model × provider (OpenRouter's endpoints have UUIDs)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"imagegate:{model}:{provider or ''}"))


# --------------------------------------------------------------------------------------------
# GET /api/v1/activity (OpenRouter's shape)
# --------------------------------------------------------------------------------------------


def _activity_day(text: str | None, first: date, last: date) -> date | None:
    if text is None or not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise GatewayError(400, f"date must be YYYY-MM-DD, got {text!r}") from exc
    if not first <= day <= last:
        raise GatewayError(
            400,
            f"date must be within the last {ACTIVITY_DAYS} completed UTC days "
            f"({first.isoformat()} to {last.isoformat()})",
        )
    return day


def activity_item(catalog: Catalog, row: repo.UsageRow) -> dict[str, Any]:
    return {
        "date": row.day.isoformat(),
        "model": row.model,
        "model_permaslug": row.model,
        "endpoint_id": endpoint_id(row.model, row.provider),
        "provider_name": provider_name(catalog, row.model, row.provider),
        "usage": float(row.cost),  # a JSON number for the SDKs; usage_usd is exact
        "byok_usage_inference": 0.0,
        "requests": row.requests,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "reasoning_tokens": 0,
        "cached_tokens": 0,
        # imagegate extensions (ignored by the SDKs)
        "usage_usd": usd(row.cost),
        "images": row.images,
        "provider_slug": row.provider,
    }


def _workspace(group_by: str | None, workspace_id: str | None) -> tuple[bool, bool]:
    """(rows carry ``workspace_id``, the filter matches this gateway's one workspace)."""
    if group_by is not None and group_by != "workspace":
        raise GatewayError(
            400, f"group_by '{group_by}' is not supported; allowed: workspace",
            metadata={"param": "group_by"},
        )  # fmt: skip
    if workspace_id is None:
        return group_by is not None, True
    try:
        wanted = uuid.UUID(workspace_id)
    except ValueError:
        raise GatewayError(
            400, "workspace_id must be a UUID", metadata={"param": "workspace_id"}
        ) from None
    return group_by is not None, str(wanted) == WORKSPACE_ID


@router.get("/activity")
async def get_activity(
    request: Request,
    caller: Caller,
    date: str | None = None,
    api_key_hash: str | None = None,
    group_by: str | None = None,
    workspace_id: str | None = None,
) -> dict[str, Any]:
    state = _state(request)
    scope = await key_scope(state, caller, api_key_hash)
    tagged, ours = _workspace(group_by, workspace_id)
    today = utc_midnight()
    first = (today - timedelta(days=ACTIVITY_DAYS)).date()
    day = _activity_day(date, first, (today - timedelta(days=1)).date())
    since = today - timedelta(days=ACTIVITY_DAYS)
    until = today
    if day is not None:
        since = datetime(day.year, day.month, day.day, tzinfo=UTC)
        until = since + timedelta(days=1)
    async with state.sessionmaker() as session:
        rows = await repo.usage(
            session, scope, since=since, until=until, by_key=False, billed_only=True
        )
    rows.sort(key=lambda r: (r.day, r.cost, r.requests, r.model), reverse=True)
    items = [activity_item(state.catalog, r) for r in rows] if ours else []
    if tagged:
        for item in items:
            item["workspace_id"] = WORKSPACE_ID
    return {"data": items}


# --------------------------------------------------------------------------------------------
# GET /api/v1/activity/summary (the spend dashboard)
# --------------------------------------------------------------------------------------------


@dataclass
class Bucket:
    """Running totals of one group."""

    spend: Decimal = Decimal(0)
    requests: int = 0
    images: int = 0
    failures: int = 0
    cancelled: int = 0

    def add(self, row: repo.UsageRow) -> None:
        self.spend += row.cost
        self.requests += row.requests
        self.images += row.images
        self.failures += row.failures
        self.cancelled += row.cancelled

    def json(self) -> dict[str, Any]:
        return {
            "spend_usd": usd(self.spend),
            "requests": self.requests,
            "images": self.images,
            "failures": self.failures,
            "cancelled": self.cancelled,
        }


def _group(rows: Iterable[repo.UsageRow], key: Any) -> dict[Any, Bucket]:
    buckets: dict[Any, Bucket] = {}
    for row in rows:
        buckets.setdefault(key(row), Bucket()).add(row)
    return buckets


def _ranked(buckets: dict[Any, Bucket]) -> list[tuple[Any, Bucket]]:
    return sorted(buckets.items(), key=lambda kv: (-kv[1].spend, -kv[1].requests, str(kv[0])))


async def _by_key(
    state: AppState, rows: list[repo.UsageRow], caller: Principal
) -> list[dict[str, Any]]:
    buckets = _group(rows, lambda r: r.api_key_id)
    ids = [k for k in buckets if k is not None]
    async with state.sessionmaker() as session:
        names = await repo.key_names(session, ids)
    out = []
    for key_id, bucket in _ranked(buckets):
        if key_id is None:
            name, label = ("master key" if caller.key_id is None else MASTER_NAME), None
        else:
            name, label = names.get(key_id, ("deleted key", None))
        out.append({"key_id": key_id, "name": name, "label": label, **bucket.json()})
    return out


def summary_body(
    catalog: Catalog, rows: list[repo.UsageRow], first: date, days: int
) -> dict[str, Any]:
    """Totals, every day of the window, and the figures by model and by provider."""
    total = Bucket()
    for row in rows:
        total.add(row)
    per_day = _group(rows, lambda r: r.day)
    by_day = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        by_day.append({"date": day.isoformat(), **per_day.get(day, Bucket()).json()})
    by_model = [
        {"model": model, **bucket.json()}
        for model, bucket in _ranked(_group(rows, lambda r: r.model))
    ]
    providers = _group(rows, lambda r: (r.provider, provider_name(catalog, r.model, r.provider)))
    by_provider = [
        {"provider": slug, "provider_name": name, **bucket.json()}
        for (slug, name), bucket in _ranked(providers)
    ]
    return {
        "totals": total.json(),
        "by_day": by_day,
        "by_model": by_model,
        "by_provider": by_provider,
    }


@router.get("/activity/summary")
async def get_summary(
    request: Request,
    caller: Caller,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    api_key_hash: str | None = None,
) -> dict[str, Any]:
    state = _state(request)
    scope = await key_scope(state, caller, api_key_hash)
    tomorrow = utc_midnight() + timedelta(days=1)
    since = tomorrow - timedelta(days=days)
    async with state.sessionmaker() as session:
        rows = await repo.usage(session, scope, since=since, until=tomorrow)
    body = summary_body(state.catalog, rows, since.date(), days)
    body["by_key"] = await _by_key(state, rows, caller)
    body.update(
        {
            "from": since.date().isoformat(),
            "to": (tomorrow - timedelta(days=1)).date().isoformat(),
            "days": days,
            "scope": "all" if scope.everyone else "key",
            "api_key_hash": scope.key_id,
        }
    )
    return {"data": body}


# --------------------------------------------------------------------------------------------
# GET /api/v1/activity/generations (recent generations)
# --------------------------------------------------------------------------------------------


def recent_item(catalog: Catalog, item: repo.RecentGeneration) -> dict[str, Any]:
    row = item.row
    return {
        "id": row.id,
        "created_at": row.created_at.isoformat(),
        "model": row.model,
        "provider": row.provider,
        "provider_name": provider_name(catalog, row.model, row.provider),
        "status": row.status,
        "route": row.route,
        "streamed": row.streamed,
        "images": row.images,
        "resolution": row.resolution,
        "cost_usd": usd(row.cost_usd),
        "latency_ms": row.latency_ms,
        "error_code": row.error_code,
        "error_message": row.error_message,
        "key_id": row.api_key_id,
        "key_name": item.key_name,
        "key_label": item.key_label,
        "record": f"/api/v1/generation?id={row.id}",
    }


@router.get("/activity/generations")
async def get_recent(
    request: Request,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=repo.MAX_RECENT)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    id: Annotated[list[str] | None, Query(max_length=100)] = None,
    api_key_hash: str | None = None,
) -> dict[str, Any]:
    """Newest first. ``id`` (repeatable) asks for given generations: an empty list while a
    generation is not yet recorded, so a client can wait for it without provoking 404s."""
    state = _state(request)
    scope = await key_scope(state, caller, api_key_hash)
    if id is not None and len(id) > repo.MAX_RECENT:
        raise GatewayError(400, f"at most {repo.MAX_RECENT} ids at once", metadata={"param": "id"})
    async with state.sessionmaker() as session:
        items = await repo.recent(session, scope, limit=limit, offset=offset, ids=id or ())
    return {"data": [recent_item(state.catalog, i) for i in items]}
