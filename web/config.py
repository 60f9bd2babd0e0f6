"""Configuration from the environment, with safe local defaults."""

from __future__ import annotations

import os
import secrets
import time
from typing import Any


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
"""The key kept in the instance folder when ``PRAKTIK_SECRET_KEY`` is not set."""


def instance_secret_key(instance_path: str) -> str:
    """The secret key kept in the instance folder, made on first use (mode 0600).

    Every worker process of one host reads the same file, so a session signed
    by one worker is good at the others; the first of several workers that
    start together writes it, the others read what it wrote.  Several hosts
    need ``PRAKTIK_SECRET_KEY``, the same on each.
    """
    path = os.path.join(instance_path, SECRET_KEY_FILE)
    os.makedirs(instance_path, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another worker is writing it this instant
            with open(path, encoding="ascii") as existing:
                key = existing.read().strip()
            if len(key) >= 32:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path}: the secret key file is empty or too short; remove it to make a new one") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as new:
        new.write(key + "\n")
    return key


def from_environment(instance_path: str) -> dict[str, Any]:
    """Settings read from ``PRAKTIK_*`` variables.

    Without ``PRAKTIK_DATABASE_URL`` the database is a SQLite file in the
    instance folder.  Without ``PRAKTIK_SECRET_KEY`` the key is kept in the
    instance folder (:func:`instance_secret_key`), shared by the workers of one host.
    """
    from_env = os.environ.get("PRAKTIK_SECRET_KEY")
    return {
        "DATABASE_URL": os.environ.get(
            "PRAKTIK_DATABASE_URL", f"sqlite:///{os.path.join(instance_path, 'praktik.sqlite')}"
        ),
        "SECRET_KEY": from_env or instance_secret_key(instance_path),
        "SECRET_KEY_FROM_ENV": bool(from_env),
        "SESSION_HOURS": float(os.environ.get("PRAKTIK_SESSION_HOURS", "12")),
        "PUPIL_SESSION_HOURS": float(os.environ.get("PRAKTIK_PUPIL_SESSION_HOURS", "8")),
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
    "SESSION_HOURS": 12.0,
    "PUPIL_SESSION_HOURS": 8.0,
    "WTF_CSRF_ENABLED": True,
    "SCHEDULER_ENABLED": False,
}
