"""The collector's settings for a serving process: start-up frozen, a higher young threshold,
both undone when the app stops."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from app import gctune
from app.main import create_app
from tests.conftest import make_settings


@pytest.fixture
def clean_collector() -> Iterator[None]:
    """No app of this process holds the collector's settings during the test (an in-process
    gateway of the session may: its hold is set aside and given back)."""
    held, saved = gctune._holders, gctune._saved
    threshold = gc.get_threshold()
    gc.unfreeze()
    if saved is not None:
        gc.set_threshold(*saved)
    gctune._holders, gctune._saved = 0, None
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        gctune._holders, gctune._saved = held, saved
        if held:
            gc.freeze()


def test_settle_freezes_start_up_and_release_undoes_it(clean_collector: None) -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    built_at_start_up = [object(), {"a": []}]
    gctune.settle()
    assert gc.get_freeze_count() >= len(built_at_start_up)
    assert gc.get_threshold() == (gctune.YOUNG_THRESHOLD, before[1], before[2])
    seen = {id(o) for generation in (0, 1, 2) for o in gc.get_objects(generation)}
    assert not any(id(o) in seen for o in built_at_start_up)  # out of the collector's sight
    gctune.settle()  # a second app of the same process
    gctune.release()
    assert gc.get_freeze_count() > 0  # the first is still serving
    gctune.release()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
    gctune.release()  # one release too many changes nothing
    assert gc.get_threshold() == before


def test_garbage_made_after_start_up_is_still_collected(clean_collector: None) -> None:
    gctune.settle()
    try:
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        gctune.release()


def test_the_app_settles_once_started_and_releases_when_stopped(
    clean_collector: None, tmp_sqlite: str
) -> None:
    app = create_app(make_settings(tmp_sqlite, None))
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        assert gctune._holders == 1 and gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == gctune.YOUNG_THRESHOLD
    assert gctune._holders == 0 and gc.get_freeze_count() == 0
