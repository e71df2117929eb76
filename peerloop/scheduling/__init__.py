"""Booking: availability, the slot engine, tutoring sessions, session requests, calendar files.

- ``models``: availability (weekly windows, blocked dates, date overrides, settings), sessions,
  requests, calendar feeds; PostgreSQL's exclusion constraints against double booking.
- ``slots``: the pure slot engine (wall-clock windows in the teacher's zone → UTC instants).
- ``services``: availability, free slots, the day view, book / hold / cancel / reschedule, and the
  counting rules (delivered, used) everything else uses.
- ``requests``: session requests (ask, accept, counter, decline).
- ``ics`` and ``feeds``: calendar files and private calendar-feed addresses.
- ``notices``: what both people are told. ``api`` and ``views``: the edges.
"""


def register() -> None:
    """Join the payments seam: when an enrollment ends, its future sessions are cancelled."""
    from peerloop.payments.services import on_enrollment_ended
    from peerloop.scheduling.services import cancel_future_sessions

    on_enrollment_ended(cancel_future_sessions)
