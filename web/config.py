"""Configuration from the environment, with safe local defaults."""

from __future__ import annotations

import os
import secrets
from typing import Any


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def from_environment(instance_path: str) -> dict[str, Any]:
    """Settings read from ``PRAKTIK_*`` variables.

    Without ``PRAKTIK_DATABASE_URL`` the database is a SQLite file in the
    instance folder.  Without ``PRAKTIK_SECRET_KEY`` a random key is made per
    process: fine for a local demo, and ``praktik serve`` warns about it.
    """
    return {
        "DATABASE_URL": os.environ.get(
            "PRAKTIK_DATABASE_URL", f"sqlite:///{os.path.join(instance_path, 'praktik.sqlite')}"
        ),
        "SECRET_KEY": os.environ.get("PRAKTIK_SECRET_KEY") or secrets.token_hex(32),
        "SECRET_KEY_FROM_ENV": bool(os.environ.get("PRAKTIK_SECRET_KEY")),
        "SESSION_COOKIE_SECURE": _env_bool("PRAKTIK_SECURE_COOKIES", False),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": int(os.environ.get("PRAKTIK_MAX_UPLOAD_BYTES", str(5 * 1024 * 1024))),
        "BABEL_DEFAULT_LOCALE": "sv",
        "LANGUAGES": ["sv", "en"],
        "MAIL_HOST": os.environ.get("PRAKTIK_MAIL_HOST", "localhost"),
        "MAIL_PORT": int(os.environ.get("PRAKTIK_MAIL_PORT", "25")),
        "MAIL_USE_TLS": _env_bool("PRAKTIK_MAIL_TLS", False),
        "MAIL_USERNAME": os.environ.get("PRAKTIK_MAIL_USERNAME"),
        "MAIL_PASSWORD": os.environ.get("PRAKTIK_MAIL_PASSWORD"),
        "MAIL_SENDER": os.environ.get("PRAKTIK_MAIL_SENDER", "praktik@localhost"),
        "MAIL_TIMEOUT_S": float(os.environ.get("PRAKTIK_MAIL_TIMEOUT_S", "30")),
        "BASE_URL": os.environ.get("PRAKTIK_BASE_URL", "http://127.0.0.1:5000"),
        "TIMEZONE": os.environ.get("PRAKTIK_TIMEZONE", "Europe/Stockholm"),
        "RETENTION_MONTHS": int(os.environ.get("PRAKTIK_RETENTION_MONTHS", "12")),
        "EMPLOYER_REMINDER_DAYS": int(os.environ.get("PRAKTIK_EMPLOYER_REMINDER_DAYS", "3")),
        "SCHOOL_REMINDER_DAYS": int(os.environ.get("PRAKTIK_SCHOOL_REMINDER_DAYS", "3")),
        "GEOCODER_URL": os.environ.get("PRAKTIK_GEOCODER_URL", "https://nominatim.openstreetmap.org"),
        "GEOCODER_USER_AGENT": os.environ.get("PRAKTIK_GEOCODER_USER_AGENT", ""),
        "MAP_TILES_URL": os.environ.get("PRAKTIK_MAP_TILES_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
        "MAP_ATTRIBUTION": os.environ.get("PRAKTIK_MAP_ATTRIBUTION", "© OpenStreetMap contributors"),
        "SCHEDULER_ENABLED": False,
    }


TEST_CONFIG: dict[str, Any] = {
    "TESTING": True,
    "MAP_TILES_URL": "",  # tests reach no tile server
    "SECRET_KEY": "test-secret-key",
    "WTF_CSRF_ENABLED": True,
    "SCHEDULER_ENABLED": False,
}
