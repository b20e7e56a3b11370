"""A worker leaves what start-up made out of the collector's full collections (app.main)."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from app.main import create_app


def test_start_up_objects_are_frozen_once_per_process(settings):
    """The first app a process starts freezes the objects alive then; an app started later
    in the same process (as tests start many) freezes nothing more, so what it made stays
    collectable."""
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
    frozen = gc.get_freeze_count()
    assert frozen > 0
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
    assert gc.get_freeze_count() == frozen
