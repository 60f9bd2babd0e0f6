from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from placement.employers import registration
from placement.errors import Conflict, ValidationError
from placement.organisation import accounts, invitations, password_links
from web.auth import bp
from web.auth.forms import (
    AcceptInvitationForm,
    ForgotPasswordForm,
    JoinForm,
    LoginForm,
    LogoutForm,
    SetPasswordForm,
)
from web.extensions import db
from web.redirects import local_path


def _safe_next(target: str | None) -> str:
    return local_path(target) or url_for("main.index")


def _pupil_login_url() -> str:
    """Where pupils log in with their personal code."""
    if "pupil_login.login" in current_app.view_functions:
        return url_for("pupil_login.login")
    return "/pupil-login/"


def _page(form: LoginForm, status: int = 200, headers: dict[str, str] | None = None) -> ResponseReturnValue:
    return render_template("auth/login.html", form=form, pupil_login_url=_pupil_login_url()), status, headers or {}


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        keys = accounts.login_keys(form.email.data or "", request.remote_addr)
        found = accounts.credentials(db, form.email.data or "", form.password.data or "")
        try:  # the account's own failures are forgotten on success; the address's stay
            user = accounts.attempt_login(db, keys, found, clear=2)
        except accounts.Throttled as throttled:
            db.rollback()
            flash(_("För många misslyckade inloggningar. Försök igen om en stund."), "error")
            return _page(form, 429, {"Retry-After": str(throttled.retry_after)})
        except accounts.AuthenticationFailed:
            flash(_("Fel e-postadress eller lösenord."), "error")
            return _page(form, 401)
        if not registration.may_log_in(user):
            db.rollback()
            flash(
                _(
                    "Din e-postadress är inte bekräftad ännu. Öppna länken i e-postmeddelandet "
                    "vi skickade när ni registrerade er, och logga sedan in."
                ),
                "error",
            )
            return _page(form, 403)
        db.commit()
        lang = session.get("lang")
        session.clear()  # a fresh session on login (no fixation)
        if lang:
            session["lang"] = lang
        login_user(user)
        return redirect(_safe_next(request.args.get("next")))
    return _page(form)


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


#: Links asked for one address, and from one client address, within accounts.WINDOW before the form waits.
RESETS_PER_ADDRESS = 3
RESETS_PER_CLIENT = 20


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password() -> ResponseReturnValue:
    """Ask for a link to choose a new password.  The answer is the same whether or not the address has an account."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        address = (form.email.data or "").strip().lower()
        limits = [(f"reset:{address}", RESETS_PER_ADDRESS), (f"reset-ip:{request.remote_addr}", RESETS_PER_CLIENT)]
        accounts.hold(db, limits)
        wait = max(accounts.retry_after(db, key, limit=limit) for key, limit in limits)
        if wait:
            db.rollback()
            flash(_("Du har bett om många länkar på kort tid. Försök igen om en stund."), "error")
            return render_template("auth/forgot_password.html", form=form), 429, {"Retry-After": str(wait)}
        for key, _limit in limits:
            accounts.record_failure(db, key)  # every request counts, found or not
        password_links.request_reset(
            db, address, secret_key=current_app.config["SECRET_KEY"], base_url=current_app.config["BASE_URL"]
        )
        db.commit()
        flash(
            _(
                "Om adressen hör till ett konto har vi skickat en länk för att välja ett nytt lösenord. "
                "Länken gäller i %(hours)d timmar.",
                hours=password_links.hours_valid(),
            ),
            "info",
        )
        return redirect(url_for(".login"))
    return render_template("auth/forgot_password.html", form=form), 400 if form.errors else 200


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str) -> ResponseReturnValue:
    """The page a one-time link leads to: choose a password, then log in with it."""
    secret = current_app.config["SECRET_KEY"]
    try:
        user = password_links.user_for(db, token, secret_key=secret)
    except ValidationError:
        db.rollback()
        return render_template("auth/link_expired.html", hours=password_links.hours_valid()), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        password_links.set_password(db, token, form.password.data or "", secret_key=secret)
        db.commit()
        flash(_("Lösenordet är sparat. Logga in med din e-postadress och det nya lösenordet."), "info")
        return redirect(url_for("auth.login"))
    status = 400 if form.errors else 200
    return render_template("auth/set_password.html", form=form, email=user.email), status


def _log_in_fresh(user: object) -> None:
    lang = session.get("lang")
    session.clear()  # a fresh session on login (no fixation)
    if lang:
        session["lang"] = lang
    login_user(user)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def invitation(token: str) -> ResponseReturnValue:
    """Where an invitation's link leads: create the account, or join with the one the address has."""
    secret = current_app.config["SECRET_KEY"]
    try:
        invited = invitations.invitation_for(db, token, secret_key=secret)
    except ValidationError:
        db.rollback()
        return render_template("auth/invitation_expired.html", days=invitations.MAX_AGE.days), 410
    organisation = invitations.target_of(invited).organisation
    account = invitations.account_of(db, invited)
    if account is not None:
        mine = current_user.is_authenticated and current_user.id == account.id
        form = JoinForm()
        if mine and form.validate_on_submit():
            try:
                invitations.accept_existing(db, token, current_user._get_current_object(), secret_key=secret)
            except Conflict:
                db.rollback()
                flash(_("Adressen har redan ett konto av ett annat slag. Kontakta samordningen."), "error")
                return render_template(
                    "auth/invitation_join.html", invited=invited, organisation=organisation, form=None, mine=mine
                ), 409
            db.commit()
            flash(_("Inbjudan är mottagen."), "info")
            return redirect(url_for("main.index"))
        page = render_template(
            "auth/invitation_join.html", invited=invited, organisation=organisation, form=form, mine=mine
        )
        return page, 400 if form.errors else 200
    form = AcceptInvitationForm()
    if request.method == "GET":
        form.name.data = invited.name
    if form.validate_on_submit():
        user = invitations.accept_new(
            db, token, secret_key=secret, name=form.name.data or "", password=form.password.data or ""
        )
        db.commit()
        _log_in_fresh(user)
        flash(_("Välkommen! Ditt konto är klart och du är inloggad."), "info")
        return redirect(url_for("main.index"))
    page = render_template("auth/invitation.html", invited=invited, organisation=organisation, form=form)
    return page, 400 if form.errors else 200
