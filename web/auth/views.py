from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from placement.services import accounts
from web.auth import bp
from web.auth.forms import LoginForm, LogoutForm
from web.extensions import db


def _safe_next(target: str | None) -> str:
    if target and urlsplit(target).netloc == "" and urlsplit(target).scheme == "" and target.startswith("/"):
        return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(db, form.email.data or "", form.password.data or "")
        except accounts.AuthenticationFailed:
            db.rollback()
            flash(_("Fel e-postadress eller lösenord."), "error")
            return render_template("auth/login.html", form=form), 401
        db.commit()
        lang = session.get("lang")
        session.clear()  # a fresh session on login (no fixation)
        if lang:
            session["lang"] = lang
        login_user(user)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> ResponseReturnValue:
    form = LogoutForm()
    if form.validate_on_submit():
        accounts.end_sessions(current_user._get_current_object())
        db.commit()
        logout_user()
        session.clear()
        flash(_("Du är utloggad."), "info")
    return redirect(url_for("main.index"))
