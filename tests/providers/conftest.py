"""Fixtures every provider folder's adapter tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A plain httpx client for the adapter under test (it is closed after the test)."""
    async with httpx.AsyncClient() as http:
        yield http
