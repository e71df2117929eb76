"""Progress test helpers: the booking tests' world (a course of 4 modules in 2 sessions, its S-T,
an enrolled student) and business time pinned to the tests' ``now``."""

from __future__ import annotations

from tests.scheduling.conftest import business_time, world  # noqa: F401
