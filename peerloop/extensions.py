"""Extension objects: created here, bound to an app in create_app()."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from peerloop.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# storage_uri and the limits themselves come from app.config at init_app().
limiter = Limiter(
    get_remote_address,
    default_limits=[],
    # Only a 429 says when to come back (errors.py sets its Retry-After); ordinary answers carry no limit headers.
    headers_enabled=False,
    swallow_errors=True,
    in_memory_fallback_enabled=True,
)
