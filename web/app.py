"""The application factory."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, request, session
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user, user_logged_in
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from placement.db import make_engine
from placement.enums import Role
from placement.models import User
from web import config as config_module
from web.extensions import babel, csrf, db, login_manager

logger = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None, *, engine: Engine | None = None) -> Flask:
    """Build the app.  ``config`` overrides the environment; ``engine`` overrides the URL (tests)."""
    app = Flask(__name__, instance_relative_config=True, instance_path=os.environ.get("PRAKTIK_INSTANCE_PATH") or None)
    app.config.from_mapping(config_module.from_environment(app.instance_path))
    if config:
        app.config.from_mapping(config)
    if engine is None:
        if app.config["DATABASE_URL"].startswith("sqlite"):
            os.makedirs(app.instance_path, exist_ok=True)
        engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["praktik.engine"] = engine
    db.configure(bind=engine)

    if app.config.get("PROXIES"):
        hops = int(app.config["PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    configure_extensions(app)
    configure_security_headers(app)
    from web import labels

    labels.register(app)
    register_blueprints(app)

    from web.errors import register_error_handlers

    register_error_handlers(app)

    @app.context_processor
    def _region() -> dict[str, Any]:
        """The region's name and address for every page's header and footer; none while the database is away."""
        from placement.organisation import registry

        try:
            return {"region": registry.region(db)}
        except SQLAlchemyError:
            db.rollback()
            return {"region": None}

    @app.teardown_appcontext
    def _remove_session(exc: BaseException | None) -> None:
        db.remove()

    return app


def select_locale() -> str | None:
    languages = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    if current_user.is_authenticated and current_user.locale in languages:
        return str(current_user.locale)
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def configure_extensions(app: Flask) -> None:
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Logga in för att se sidan.")
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        # The id carries the account's session version: logging out bumps the
        # version, so a copied cookie stops working.
        try:
            ident, version = (int(part) for part in user_id.split(":"))
        except ValueError:
            return None
        user = db.get(User, ident)
        if user is None or not user.active or user.session_version != version:
            return None
        return user

    configure_session_lifetime(app)


SIGNED_IN_AT = "signed_in_at"
"""Session key: when the user logged in (seconds since the epoch)."""


def configure_session_lifetime(app: Flask) -> None:
    """End a login after an absolute lifetime, however active it has been since.

    ``SESSION_HOURS`` for staff (12 h: a working day), ``PUPIL_SESSION_HOURS``
    for pupils (8 h: a school day), counted from the login; a copied cookie
    stops working then at the latest.  The user logs in again.
    """

    @user_logged_in.connect_via(app)
    def _stamp(sender: Flask, user: User, **extra: Any) -> None:
        session[SIGNED_IN_AT] = int(time.time())

    @app.before_request
    def _expire() -> None:
        if not current_user.is_authenticated:
            return
        hours = app.config["PUPIL_SESSION_HOURS" if current_user.role is Role.PUPIL else "SESSION_HOURS"]
        started = session.get(SIGNED_IN_AT)
        if not isinstance(started, int) or time.time() - started > float(hours) * 3600:
            logout_user()
            session.pop(SIGNED_IN_AT, None)


#: ``{img_src}`` is filled by :func:`content_security_policy` from the map tile server.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src {img_src}; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
#: Sent on every response, with the CSP: pages, JSON, files, redirects and error pages.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@functools.cache
def content_security_policy(tiles_url: str) -> str:
    """The CSP, letting images come only from this site, ``data:`` and the map's tile server.

    A tile template's subdomain placeholder (``https://{s}.tile.example.org/...``)
    becomes a wildcard host; a URL that is not http(s) adds no source.
    """
    sources = ["'self'", "data:"]
    parts = urlsplit(tiles_url.strip().replace("{s}", "*"))
    host = parts.netloc.rsplit("@", 1)[-1]
    if parts.scheme in {"http", "https"} and host and all(ch not in host for ch in " ;,'\"{}"):
        sources.append(f"{parts.scheme}://{host}")
    return CONTENT_SECURITY_POLICY.format(img_src=" ".join(sources))


def configure_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response: Any) -> Any:
        csp = content_security_policy(app.config.get("MAP_TILES_URL") or "")
        response.headers.setdefault("Content-Security-Policy", csp)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint != "static":
            # Pages, JSON and exports may carry personal data: never kept by a browser or proxy.
            # Static files keep their own caching.
            response.headers["Cache-Control"] = "no-store"
        return response


class RecordId(IntegerConverter):
    """``<int:…>`` in every route: a whole number an id column can hold (0 to 2**31 - 1), else 404.

    Ids are ``integer`` columns (32 bits on PostgreSQL); a larger number
    would reach the database and fail there (out of range, or an
    OverflowError on SQLite past 2**63) with a 500 instead of finding nothing.
    """

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 0)
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = RecordId
    from web.auth import bp as auth_bp
    from web.coordinator import bp as coordinator_bp
    from web.employer import bp as employer_bp
    from web.employer.signup import bp as employer_signup_bp
    from web.main import bp as main_bp
    from web.pupil import bp as pupil_bp
    from web.pupil.login import bp as pupil_login_bp
    from web.school import bp as school_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(coordinator_bp, url_prefix="/coordinator")
    app.register_blueprint(employer_bp, url_prefix="/employer")
    app.register_blueprint(employer_signup_bp, url_prefix="/register")
    app.register_blueprint(school_bp, url_prefix="/school")
    app.register_blueprint(pupil_bp, url_prefix="/pupil")
    app.register_blueprint(pupil_login_bp, url_prefix="/pupil-login")
