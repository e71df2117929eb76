"""Video tests reuse the booking world (a course, a teacher with a week, an enrolled student)."""

from __future__ import annotations

import pytest

from tests.scheduling.conftest import world  # noqa: F401  (a fixture)


@pytest.fixture
def clock(monkeypatch):
    """clock(moment): business time (what the API reads) is ``moment`` from now on."""

    def _set(moment):
        monkeypatch.setattr("peerloop.clock.now", lambda: moment)

    return _set
