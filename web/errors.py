"""Error pages, and domain errors mapped to responses in one place."""

from __future__ import annotations

import logging

from flask import Flask, current_app, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from placement.errors import Conflict, NotFound, PermissionDenied, PlacementError
from web.extensions import db

logger = logging.getLogger(__name__)


def _http_text(code: int) -> tuple[str, str]:
    """The title and the explanation of an HTTP error page, in the user's language."""
    if code == 400:
        return _("Felaktig förfrågan"), _("Sidan kunde inte läsa det som skickades. Ladda om sidan och försök igen.")
    if code == 403:
        return _("Ingen behörighet"), _("Du har inte behörighet att göra det här.")
    if code == 405:
        return _("Går inte att göra så"), _("Sidan kan inte användas på det sättet.")
    if code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        return _("Filen är för stor"), _(
            "En fil får vara högst %(mb)s MB. Dela upp filen, eller ta bort tomma rader och kolumner och försök igen.",
            mb=format_decimal(round(limit / (1024 * 1024), 1)),
        )
    if code == 429:
        return _("För många försök"), _("Vänta en stund och försök igen.")
    return _("Något gick fel"), _("Sidan kunde inte visas. Försök igen om en stund.")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        code = exc.code or 500
        if code == 404:
            return render_template("errors/404.html", error=exc), code
        if isinstance(exc, CSRFError):
            title, text = (
                _("Formuläret kunde inte skickas"),
                _(
                    "Formuläret har gått ut eller kom inte från den här sidan (CSRF-skyddet). "
                    "Ladda om sidan och försök igen."
                ),
            )
        else:
            title, text = _http_text(code)
        return render_template("errors/error.html", error=None, title=title, text=text), code

    @app.errorhandler(PlacementError)
    def _domain(exc: PlacementError) -> ResponseReturnValue:
        db.rollback()
        if isinstance(exc, NotFound | PermissionDenied):
            return render_template("errors/404.html", error=exc), 404
        status = 409 if isinstance(exc, Conflict) else 400
        flash(str(exc), "error")
        if request.referrer and request.method == "POST":
            return redirect(request.referrer)
        return render_template("errors/error.html", error=exc), status

    @app.errorhandler(OperationalError)
    def _database_down(exc: OperationalError) -> ResponseReturnValue:
        db.rollback()
        logger.error("Database unavailable: %s", exc.orig)
        return render_template("errors/error.html", error=None, unavailable=True), 503, {"Retry-After": "30"}

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        db.rollback()
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return render_template("errors/500.html"), 500
