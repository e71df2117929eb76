"""The WSGI entry point: ``gunicorn wsgi:app``."""

from peerloop import create_app

app = create_app()
