"""Key management in OpenRouter's management-API shape (master/admin only), and ``GET /key``."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)

from app.auth import Principal, authenticate, require_admin
from app.db import credit
from app.db import keys as repo
from app.db.models import ApiKey
from app.errors import GatewayError
from app.generation.request import check_json_value
from app.state import AppState

router = APIRouter(prefix="/api/v1")

Admin = Annotated[Principal, Depends(require_admin)]
Caller = Annotated[Principal, Depends(authenticate)]


MAX_LIMIT = repo.MAX_LIMIT


def _strict_usd(value: object) -> object:
    """A USD amount as a JSON number: not a bool, not a string, finite, within the column."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON number of USD (not a string or a boolean)")
    amount = Decimal(str(value))
    if not amount.is_finite() or amount < 0 or amount > MAX_LIMIT:
        raise ValueError(f"must be a finite number of USD between 0 and {MAX_LIMIT}")
    return amount.quantize(repo.USD_STEP)


Usd = Annotated[Decimal | None, BeforeValidator(_strict_usd)]


def _encodable(value: str) -> str:
    check_json_value(value, "name")
    return value


Name = Annotated[StrictStr, AfterValidator(_encodable)]
Reset = Literal["daily", "weekly", "monthly"]


class CreateKeyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: Name = Field(min_length=1, max_length=repo.NAME_MAX_CHARS)
    limit: Usd = None
    limit_reset: Reset | None = None
    include_byok_in_limit: StrictBool | None = None  # accepted for compatibility; no BYOK here
    admin: StrictBool = False
    rate_limit_rpm: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    concurrency_limit: StrictInt | None = Field(default=None, ge=1, le=100_000)


class UpdateKeyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: Name | None = Field(default=None, min_length=1, max_length=repo.NAME_MAX_CHARS)
    disabled: StrictBool | None = None
    limit: Usd = None
    limit_reset: Reset | None = None
    include_byok_in_limit: StrictBool | None = None
    rate_limit_rpm: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    concurrency_limit: StrictInt | None = Field(default=None, ge=1, le=100_000)


def _usd(value: Decimal | None) -> float | None:
    # JSON numbers for the SDKs; the exact value stays in the database.
    return None if value is None else float(value)


async def _key_json(state: AppState, row: ApiKey) -> dict[str, Any]:
    async with state.sessionmaker() as session:
        windows = await repo.usage_windows(session, row.id)
        balance = await credit.balance(session, row)
    return {
        "hash": row.id,
        "name": row.name,
        "label": f"{row.prefix}...",
        "disabled": row.disabled,
        "limit": _usd(row.limit_usd),
        "limit_remaining": _usd(balance.remaining),
        "limit_reset": row.limit_reset,
        "include_byok_in_limit": False,
        "usage": float(row.usage_usd),
        "usage_daily": float(windows.daily),
        "usage_weekly": float(windows.weekly),
        "usage_monthly": float(windows.monthly),
        "byok_usage": 0.0,
        "byok_usage_daily": 0.0,
        "byok_usage_weekly": 0.0,
        "byok_usage_monthly": 0.0,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
        "last_used_at": None,
        "creator_user_id": None,
        "external_user": None,
        "workspace_id": "default",
        "is_admin": row.is_admin,
        # imagegate extensions
        "limit_held": float(balance.held),
        "rate_limit_rpm": row.rate_limit_rpm or state.settings.rate_limit_rpm,
        "concurrency_limit": row.concurrency_limit or state.settings.concurrency_per_key,
    }


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.ig
    return state


@router.post("/keys", status_code=201)
async def create_key(body: CreateKeyBody, request: Request, _: Admin) -> dict[str, Any]:
    state = _state(request)
    async with state.sessionmaker() as session, session.begin():
        row, raw = await repo.create_key(
            session, name=body.name, limit_usd=body.limit, is_admin=body.admin
        )
        row.limit_reset = body.limit_reset
        row.rate_limit_rpm = body.rate_limit_rpm
        row.concurrency_limit = body.concurrency_limit
    return {"data": await _key_json(state, row), "key": raw}


@router.get("/keys")
async def list_keys(
    request: Request,
    _: Admin,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    include_disabled: bool = True,
) -> dict[str, Any]:
    state = _state(request)
    async with state.sessionmaker() as session:
        rows = await repo.list_keys(
            session, offset=max(0, offset), include_disabled=include_disabled
        )
    return {"data": [await _key_json(state, r) for r in rows]}


async def _require(state: AppState, key_hash: str) -> ApiKey:
    async with state.sessionmaker() as session:
        row = await repo.get_key(session, key_hash)
    if row is None:
        raise GatewayError(404, f"API key '{key_hash}' not found")
    return row


@router.get("/keys/{key_hash}")
async def get_key(key_hash: str, request: Request, _: Admin) -> dict[str, Any]:
    state = _state(request)
    return {"data": await _key_json(state, await _require(state, key_hash))}


@router.patch("/keys/{key_hash}")
async def update_key(
    key_hash: str, body: UpdateKeyBody, request: Request, _: Admin
) -> dict[str, Any]:
    state = _state(request)
    async with state.sessionmaker() as session, session.begin():
        row = await repo.get_key(session, key_hash)
        if row is None:
            raise GatewayError(404, f"API key '{key_hash}' not found")
        if body.name is not None:
            row.name = body.name
        if body.disabled is not None:
            row.disabled = body.disabled
        for field in ("limit_reset", "rate_limit_rpm", "concurrency_limit"):
            if field in body.model_fields_set:
                setattr(row, field, getattr(body, field))
        if "limit" in body.model_fields_set:
            row.limit_usd = body.limit
    state.keys.invalidate(key_hash)
    return {"data": await _key_json(state, row)}


@router.delete("/keys/{key_hash}")
async def delete_key(key_hash: str, request: Request, _: Admin) -> dict[str, Any]:
    state = _state(request)
    async with state.sessionmaker() as session, session.begin():
        if not await repo.delete_key(session, key_hash):
            raise GatewayError(404, f"API key '{key_hash}' not found")
    state.keys.invalidate(key_hash)
    return {"deleted": True}


@router.get("/key")
async def current_key(request: Request, caller: Caller) -> dict[str, Any]:
    """The calling key's own usage and limit, as OpenRouter's ``GET /key``."""
    state = _state(request)
    if caller.key_id is None:
        base: dict[str, Any] = {
            "label": "master",
            "limit": None,
            "limit_remaining": None,
            "usage": 0.0,
            "usage_daily": 0.0,
            "usage_weekly": 0.0,
            "usage_monthly": 0.0,
            "limit_reset": None,
            "rate_limit_rpm": state.settings.rate_limit_rpm,
        }
    else:
        base = await _key_json(state, await _require(state, caller.key_id))
    data = {
        k: base[k]
        for k in (
            "label",
            "limit",
            "limit_remaining",
            "usage",
            "usage_daily",
            "usage_weekly",
            "usage_monthly",
            "limit_reset",
        )
    }
    data.update(
        {
            "include_byok_in_limit": False,
            "byok_usage": 0.0,
            "byok_usage_daily": 0.0,
            "byok_usage_weekly": 0.0,
            "byok_usage_monthly": 0.0,
            "is_free_tier": False,
            "is_management_key": caller.is_admin,
            "is_provisioning_key": caller.is_admin,
            "creator_user_id": None,
            "organization_id": None,
            "workspace_id": None,
            "allowed_data_regions": ["global"],
            "budgets": [],
            "effective_budget": None,
            "free_model_daily_requests": {"limit": 0, "remaining": 0, "used": 0},
            "rate_limit": {
                "interval": "1m",
                "requests": base["rate_limit_rpm"],
                "note": "per-key requests in any 60 s window, on every generation route",
            },
        }
    )
    return {"data": data}
