"""Booking: availability, the slot engine, tutoring sessions (issue 7).

Built so far: ``slots``, the pure slot engine. The models, services, calendar
files, API and pages arrive with the rest of the issue.
"""
