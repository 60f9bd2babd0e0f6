"""Extensions, created unbound and bound to the app in ``create_app``."""

from __future__ import annotations

from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session, scoped_session, sessionmaker

#: The request-scoped session; bound to an engine in create_app, removed at teardown.
db: scoped_session[Session] = scoped_session(sessionmaker(expire_on_commit=False))
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
