"""Public registration of employers, with e-mail verification.  No login required.

``/register/`` creates a PENDING employer and its contact and queues a mail
with a signed link (for an address that has an account it answers the same
and mails the owner instead); ``/register/verify/<token>`` marks the address verified
and logs the contact in.  The login view refuses an employer contact whose
address is not verified.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user

from placement.employers import registration
from placement.errors import ValidationError
from web.employer.forms import ResendForm, SignupForm
from web.extensions import db

bp = Blueprint("employer_signup", __name__)


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


@bp.route("/", methods=["GET", "POST"])
def register() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            registration.register(
                db,
                name=form.name.data or "",
                org_number=form.org_number.data or "",
                contact_name=form.contact_name.data or "",
                email=form.email.data or "",
                password=form.password.data or "",
                phone=form.phone.data,
                locale=str(get_locale() or "sv"),
                secret_key=_secret(),
                base_url=current_app.config["BASE_URL"],
            )
        except registration.AlreadyRegistered:
            db.rollback()
            form.org_number.errors.append(
                _("Organisationen är redan registrerad. Kontakta samordningen för att bli kontaktperson.")
            )
            return render_template("employer/register.html", form=form), 409
        # An address that has an account gets the same answer (its owner is mailed instead): nobody learns who has one.
        db.commit()
        return redirect(url_for(".sent"))
    return render_template("employer/register.html", form=form), 400 if form.errors else 200


@bp.get("/sent")
def sent() -> ResponseReturnValue:
    return render_template("employer/register_sent.html", form=ResendForm())


@bp.post("/resend")
def resend() -> ResponseReturnValue:
    form = ResendForm()
    if form.validate_on_submit():
        registration.resend_verification(
            db, form.email.data or "", secret_key=_secret(), base_url=current_app.config["BASE_URL"]
        )
        db.commit()
        # The same answer whatever happened: the form tells nobody which addresses have accounts.
        flash(_("Om adressen hör till ett konto som väntar på bekräftelse har vi skickat en ny länk."), "info")
        return redirect(url_for(".sent"))
    return render_template("employer/register_sent.html", form=form), 400


@bp.get("/verify/<token>")
def verify(token: str) -> ResponseReturnValue:
    try:
        user, first_use = registration.verify_email(db, token, secret_key=_secret())
    except ValidationError:
        db.rollback()
        flash(_("Länken har gått ut. Be om en ny länk nedan."), "error")
        return redirect(url_for(".sent"))
    db.commit()
    if not first_use:
        flash(_("Din e-postadress är redan bekräftad. Logga in."), "info")
        return redirect(url_for("auth.login"))
    lang = session.get("lang")
    session.clear()  # a fresh session on login (no fixation)
    if lang:
        session["lang"] = lang
    login_user(user)
    flash(_("Din e-postadress är bekräftad och du är inloggad."), "info")
    return redirect(url_for("employer.organisation"))
