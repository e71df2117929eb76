"""Build the two Flask-Admin consoles for an app: /admin (Brian) and /studio (creators)."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.menu import MenuLink
from flask_admin.theme import Bootstrap4Theme

from peerloop.extensions import db


def init_admin(app: Flask) -> None:
    from peerloop.accounts.models import User
    from peerloop.admin import (
        certifications,
        console,
        contests,
        payments,
        scheduling,
        studio,
        studio_deactivate,
        studio_people,
        studio_queues,
    )
    from peerloop.catalog.models import Category, Course
    from peerloop.jobs import FailedJob
    from peerloop.notifications.models import OutboundEmail
    from peerloop.payments.models import Payout, PayoutBatch, Transaction
    from peerloop.scheduling.models import SessionRequest, TutoringSession
    from peerloop.webhooks.models import WebhookEvent

    theme = Bootstrap4Theme(base_template="admin/peerloop_master.html", swatch="default")
    admin = Admin(
        app,
        name="PeerLoop console",
        url="/admin",
        endpoint="admin",
        theme=theme,
        index_view=console.ConsoleHome(url="/admin", endpoint="admin", name="Overview"),
    )
    admin.add_view(console.UserView(User, db, name="Users", endpoint="console_users"))
    admin.add_view(console.CourseConsoleView(Course, db, name="Courses", endpoint="console_courses"))
    admin.add_view(console.CategoryView(Category, db, name="Categories", endpoint="console_categories"))
    admin.add_view(console.OutboxView(OutboundEmail, db, name="Outbox", endpoint="console_outbox", category="System"))
    admin.add_view(
        console.FailedJobView(FailedJob, db, name="Failed jobs", endpoint="console_failed_jobs", category="System")
    )
    admin.add_view(
        console.WebhookEventView(
            WebhookEvent, db, name="Webhook events", endpoint="console_webhook_events", category="System"
        )
    )
    # Payments (peerloop/admin/payments.py): money moves only through payments.services.
    admin.add_view(
        payments.TransactionView(
            Transaction, db, name="Transactions", endpoint="console_transactions", category="Payments"
        )
    )
    admin.add_view(
        payments.PayoutBatchView(
            PayoutBatch, db, name="Payout batches", endpoint="console_payout_batches", category="Payments"
        )
    )
    admin.add_view(payments.PayoutView(Payout, db, name="Payouts", endpoint="console_payouts", category="Payments"))
    admin.add_view(payments.RefundToolView(name="Refunds", endpoint="console_refunds", url="/admin/refunds"))
    admin.add_link(MenuLink(name="Webhook events", endpoint="console_webhook_events.index_view", category="Payments"))
    # Teaching (peerloop/admin/scheduling.py): read-only; sessions change only through scheduling.services.
    admin.add_view(
        scheduling.SessionView(TutoringSession, db, name="Sessions", endpoint="console_sessions", category="Teaching")
    )
    admin.add_link(
        MenuLink(
            name="Late cancellations",
            url="/admin/console_sessions/?flt0_late_cancellation_equals=1",
            category="Teaching",
        )
    )
    # The contest queue (peerloop/admin/contests.py): decisions go through video.outcomes.resolve_contest.
    # Notifications of a new contest link to /admin/contests/: keep the URL.
    admin.add_view(
        contests.ContestQueueView(
            name="Contests", endpoint="console_contests", url="/admin/contests", category="Teaching"
        )
    )
    # Every creator's pending decisions, to nudge them; revocation (deciding stays the creator's).
    admin.add_view(
        certifications.CertificationOverviewView(
            name="Certifications", endpoint="console_certifications", url="/admin/certifications", category="Teaching"
        )
    )
    admin.add_view(
        scheduling.SessionRequestView(
            SessionRequest, db, name="Session requests", endpoint="console_session_requests", category="Teaching"
        )
    )

    creator_studio = Admin(
        app,
        name="PeerLoop studio",
        url="/studio",
        endpoint="studio",
        theme=Bootstrap4Theme(base_template="admin/peerloop_master.html", swatch="default"),
        index_view=studio.StudioHome(url="/studio", endpoint="studio", name="Dashboard"),
    )
    creator_studio.add_view(
        studio.StudioCourseView(Course, db, name="My courses", endpoint="studio_courses", url="/studio/courses")
    )
    # The approval queues (the notifications link to these URLs: keep them).
    creator_studio.add_view(
        studio_queues.CertificationQueueView(
            name="Certifications", endpoint="studio_certifications", url="/studio/certifications"
        )
    )
    creator_studio.add_view(
        studio_queues.ApplicationQueueView(
            name="Teach applications", endpoint="studio_applications", url="/studio/applications"
        )
    )
    # The creator's people and money (peerloop/admin/studio_people.py): read-only, their own courses.
    creator_studio.add_view(
        studio_people.StudioStudentsView(name="Students", endpoint="studio_students", url="/studio/students")
    )
    creator_studio.add_view(
        studio_people.StudioTeachersView(name="Student-Teachers", endpoint="studio_teachers", url="/studio/teachers")
    )
    creator_studio.add_view(
        studio_people.StudioEarningsView(name="Earnings", endpoint="studio_earnings", url="/studio/earnings")
    )
    # Reached from the Student-Teachers page (peerloop/admin/studio_deactivate.py); not in the menu.
    creator_studio.add_view(
        studio_deactivate.DeactivateTeacherView(
            name="Deactivate a Student-Teacher", endpoint="studio_deactivate", url="/studio/deactivate"
        )
    )
