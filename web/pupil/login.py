"""Pupils log in with the personal code their school hands out: no e-mail, no password.

A small blueprint of its own, because the pupil blueprint requires a
logged-in pupil and this page is for pupils who are not logged in yet.
"""

from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_user

from placement.cohorts import login_codes
from placement.organisation import accounts
from placement.organisation.accounts import AuthenticationFailed
from web.extensions import db
from web.pupil.forms import CodeLoginForm

logger = logging.getLogger(__name__)

bp = Blueprint("pupil_login", __name__)


@bp.route("/", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = CodeLoginForm()
    if form.validate_on_submit():
        keys = login_codes.throttle_keys(db, form.code.data or "", request.remote_addr)
        found = login_codes.credentials(db, form.code.data or "")
        try:  # the code's own failures are forgotten on success; its class's stay
            user = accounts.attempt_login(db, keys, found, clear=1)
        except accounts.Throttled as throttled:
            db.rollback()
            flash(_("För många försök med fel kod. Vänta en stund och försök igen."), "error")
            return render_template("pupil/login.html", form=form), 429, {"Retry-After": str(throttled.retry_after)}
        except AuthenticationFailed:
            # The same answer for an unknown, revoked or mistyped code: nothing is revealed.
            flash(_("Koden fungerade inte. Kontrollera att du har skrivit rätt, eller fråga din skola."), "error")
            return render_template("pupil/login.html", form=form), 401
        db.commit()
        lang = session.get("lang")
        session.clear()  # a fresh session on login (no fixation)
        if lang:
            session["lang"] = lang
        login_user(user)
        return redirect(url_for("pupil.home"))
    return render_template("pupil/login.html", form=form)
