"""Configuration from the environment, with safe local defaults."""

from __future__ import annotations

import dataclasses
import os
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit


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
        #: The job queue's PostgreSQL database; unset, the web host starts its own solve workers.
        "QUEUE_URL": os.environ.get("PRAKTIK_QUEUE_URL") or None,
        "SESSION_HOURS": float(os.environ.get("PRAKTIK_SESSION_HOURS", "12")),
        "PUPIL_SESSION_HOURS": float(os.environ.get("PRAKTIK_PUPIL_SESSION_HOURS", "8")),
        "SESSION_COOKIE_SECURE": _env_bool("PRAKTIK_SECURE_COOKIES", False),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": int(os.environ.get("PRAKTIK_MAX_UPLOAD_BYTES", str(5 * 1024 * 1024))),
        "BABEL_DEFAULT_LOCALE": "sv",
        "LANGUAGES": ["sv", "en"],
        "MAIL_HOST": os.environ.get("PRAKTIK_MAIL_HOST", "localhost"),
        #: Whether a mail server was named: links the command line prints are then mailed too.
        "MAIL_CONFIGURED": bool(os.environ.get("PRAKTIK_MAIL_HOST")),
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
        #: Reverse proxies in front of the app (nginx: 1): their X-Forwarded-For, -Proto and -Host are trusted,
        #: so each client's own address counts (throttles) instead of the proxy's.
        "PROXIES": int(os.environ.get("PRAKTIK_PROXIES", "0")),
    }


@dataclasses.dataclass(frozen=True)
class Finding:
    """One production setting to look at: ``unsafe`` and ``missing`` ones fail ``praktik check-config``."""

    level: str
    """``unsafe``, ``missing`` or ``note``."""
    variable: str
    text: str


def production_findings(settings: Mapping[str, Any]) -> list[Finding]:
    """What is unsafe, missing or worth knowing in these settings for a production server."""
    out: list[Finding] = []
    base_url = str(settings.get("BASE_URL") or "")
    https = base_url.startswith("https://")
    if https and not settings.get("SESSION_COOKIE_SECURE"):
        out.append(
            Finding(
                "unsafe",
                "PRAKTIK_SECURE_COOKIES",
                "the site is served over HTTPS but cookies may travel unencrypted; set it to true",
            )
        )
    if not https:
        out.append(
            Finding(
                "unsafe",
                "PRAKTIK_BASE_URL",
                f"{base_url or '(empty)'} is not an https:// address: "
                "logins and pupils' data would cross the network unencrypted",
            )
        )
    host = urlsplit(base_url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1", ""):
        out.append(
            Finding(
                "missing", "PRAKTIK_BASE_URL", "the links in e-mail point at this machine; set the address people open"
            )
        )
    if not settings.get("SECRET_KEY_FROM_ENV"):
        out.append(
            Finding(
                "note",
                "PRAKTIK_SECRET_KEY",
                "not set: the key kept in the instance folder signs sessions, which serves one host; "
                "several hosts need the same value set on each",
            )
        )
    if str(settings.get("MAIL_SENDER") or "").endswith("@localhost"):
        out.append(
            Finding(
                "missing",
                "PRAKTIK_MAIL_SENDER",
                "mail would go out from an address at localhost; set the municipality's sender address",
            )
        )
    if settings.get("MAIL_HOST") in ("localhost", "127.0.0.1") and not settings.get("MAIL_USE_TLS"):
        out.append(
            Finding(
                "note",
                "PRAKTIK_MAIL_HOST",
                "mail goes to a server on this machine without STARTTLS; fine for a local relay",
            )
        )
    if str(settings.get("BASE_URL") or "").startswith("https://") and not settings.get("PROXIES"):
        out.append(
            Finding(
                "unsafe",
                "PRAKTIK_PROXIES",
                "behind a reverse proxy every client has the proxy's address, so one client's failed logins slow "
                "down everyone; set the number of proxies in front of the app (nginx alone: 1)",
            )
        )
    if not settings.get("GEOCODER_USER_AGENT"):
        out.append(
            Finding(
                "missing",
                "PRAKTIK_GEOCODER_USER_AGENT",
                "addresses cannot be geocoded until the installation identifies itself to Nominatim",
            )
        )
    if str(settings.get("DATABASE_URL") or "").startswith("sqlite"):
        out.append(
            Finding(
                "note",
                "PRAKTIK_DATABASE_URL",
                "the embedded SQLite database: one host only; PostgreSQL for several web hosts or workers",
            )
        )
    return out


TEST_CONFIG: dict[str, Any] = {
    "TESTING": True,
    "MAP_TILES_URL": "",  # tests reach no tile server
    "SECRET_KEY": "test-secret-key",
    "SESSION_HOURS": 12.0,
    "PUPIL_SESSION_HOURS": 8.0,
    "WTF_CSRF_ENABLED": True,
    "SCHEDULER_ENABLED": False,
}
