from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from placement.enums import Role
from placement.reports.overview import region_summary
from web.extensions import db
from web.main import bp
from web.redirects import local_path

#: Where each role starts after logging in.
HOMES = {
    Role.COORDINATOR: "coordinator.overview",
    Role.SCHOOL_STAFF: "school.home",
    Role.EMPLOYER_CONTACT: "employer.placements",
    Role.PUPIL: "pupil.home",
}


@bp.route("/")
def index() -> ResponseReturnValue:
    if current_user.is_authenticated and current_user.role in HOMES:
        endpoint = HOMES[current_user.role]
        if endpoint in current_app.view_functions:
            return redirect(url_for(endpoint))
    return render_template("main/index.html", summary=region_summary(db))


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code: str) -> ResponseReturnValue:
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = code
    return redirect(local_path(request.form.get("next")) or url_for("main.index"))


@bp.route("/healthz")
def health() -> ResponseReturnValue:
    from sqlalchemy import text

    db.execute(text("SELECT 1"))
    return {"status": "ok"}
