"""PeerLoop: a peer-to-peer tutoring marketplace. ``create_app`` is the table of contents."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config as config_module
from peerloop import security


def create_app(config: dict | None = None) -> Flask:
    """Build the app. ``config`` overrides what the environment gives (tests use it)."""
    from peerloop.http import SafeRequest

    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.request_class = SafeRequest
    app.config.from_mapping(config_module.from_env())
    if config:
        app.config.update(config)

    configure_logging(app)
    register_extensions(app)
    register_models()
    register_blueprints(app)
    register_error_handlers(app)
    register_template_helpers(app)
    register_read_cache(app)
    register_assets(app)
    register_admin(app)
    register_cli(app)
    register_proxy_fix(app)
    security.init_app(app)  # CSP, no framing, nosniff, HSTS in production
    return app


def configure_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("alembic").setLevel(logging.WARNING)


def register_extensions(app: Flask) -> None:
    from peerloop import jobs
    from peerloop.accounts import access
    from peerloop.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(config_module.BASE_DIR / "migrations"), render_as_batch=True, compare_type=True
    )
    login_manager.init_app(app)
    access.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    jobs.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine, busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"])


def configure_sqlite(engine: sa.Engine, *, busy_timeout_ms: int) -> None:
    """SQLite that two writers at once cannot break: WAL, a busy timeout, and write transactions
    that take the write lock when they begin.

    pysqlite's own transaction handling breaks SAVEPOINTs and delays BEGIN, so
    SQLAlchemy's documented recipe takes over: autocommit at the driver, and an
    explicit BEGIN when SQLAlchemy starts a transaction. A deferred transaction
    that reads and then writes cannot wait for the lock (SQLite answers "database
    is locked" at once), so every transaction that may write begins IMMEDIATE
    and waits its turn; only the reads of safe (GET, HEAD) requests begin
    deferred, and ``peerloop.db.for_update`` upgrades one of those when it must write.
    """
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        from peerloop.db import sqlite_begin_statement

        statement = sqlite_begin_statement()
        connection.info["sqlite_write_lock"] = statement == "BEGIN IMMEDIATE"
        connection.exec_driver_sql(statement)


def register_models() -> None:
    """Import every model module so the metadata (and Alembic) sees all tables."""
    import peerloop.accounts.models  # noqa: F401
    import peerloop.catalog.models  # noqa: F401
    import peerloop.certification.models  # noqa: F401
    import peerloop.clock  # noqa: F401
    import peerloop.enrollment.models  # noqa: F401
    import peerloop.jobs  # noqa: F401
    import peerloop.notifications.models  # noqa: F401
    import peerloop.payments.models  # noqa: F401
    import peerloop.scheduling.models  # noqa: F401
    import peerloop.video.models  # noqa: F401
    import peerloop.webhooks.models  # noqa: F401


def register_blueprints(app: Flask) -> None:
    from peerloop.accounts.api import bp as accounts_api
    from peerloop.accounts.views import bp as accounts_views
    from peerloop.api import create_blueprint as create_api_blueprint
    from peerloop.catalog.api import bp as catalog_api
    from peerloop.catalog.views import bp as catalog_views
    from peerloop.certification.api import bp as certification_api
    from peerloop.certification.views import bp as certification_views
    from peerloop.clock_api import bp as clock_api
    from peerloop.enrollment.api import bp as enrollment_api
    from peerloop.enrollment.views import bp as enrollment_views
    from peerloop.notifications.api import bp as notifications_api
    from peerloop.notifications.views import bp as notifications_views
    from peerloop.payments.api import bp as payments_api
    from peerloop.payments.services import register_webhook_handlers
    from peerloop.payments.views import bp as payments_views
    from peerloop.scheduling import register as register_scheduling
    from peerloop.scheduling.api import bp as scheduling_api
    from peerloop.scheduling.views import bp as scheduling_views
    from peerloop.video.api import bp as video_api
    from peerloop.video.views import bp as video_views
    from peerloop.video.webhooks import register_webhook_handlers as register_video_webhook_handlers
    from peerloop.webhooks.views import bp as webhooks

    app.register_blueprint(catalog_views)
    app.register_blueprint(accounts_views)
    app.register_blueprint(certification_views)
    app.register_blueprint(enrollment_views)
    app.register_blueprint(notifications_views)
    app.register_blueprint(payments_views)
    app.register_blueprint(scheduling_views)
    app.register_blueprint(video_views)
    app.register_blueprint(webhooks)
    app.register_blueprint(
        create_api_blueprint(
            accounts_api,
            catalog_api,
            certification_api,
            enrollment_api,
            notifications_api,
            payments_api,
            scheduling_api,
            video_api,
            clock_api,
        )
    )
    register_scheduling()
    register_webhook_handlers()  # the web, the worker and the sweep all build the app, so all know them
    register_video_webhook_handlers()


def register_error_handlers(app: Flask) -> None:
    from peerloop.errors import register_error_handlers as register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from peerloop import templating

    templating.init_app(app)


def register_read_cache(app: Flask) -> None:
    from peerloop import readcache

    readcache.init_app(app)  # anonymous reads served from a store every write invalidates


def register_assets(app: Flask) -> None:
    from peerloop import assets

    assets.init_app(app)  # fingerprinted static URLs, cached for a year


def register_admin(app: Flask) -> None:
    from peerloop.admin import init_admin

    init_admin(app)


def register_cli(app: Flask) -> None:
    from peerloop import cli

    cli.init_app(app)


def register_proxy_fix(app: Flask) -> None:
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
