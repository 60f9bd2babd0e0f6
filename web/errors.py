"""Error pages, and domain errors mapped to responses in one place."""

from __future__ import annotations

import logging

from flask import Flask, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from placement.errors import Conflict, NotFound, PermissionDenied, PlacementError
from web.extensions import db

logger = logging.getLogger(__name__)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        code = exc.code or 500
        template = "errors/404.html" if code == 404 else "errors/error.html"
        return render_template(template, error=exc), code

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
