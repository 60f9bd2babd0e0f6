"""The coordinator's organisation pages: municipalities, schools, and the school register upload.

Thin: each view checks its form, finds its records through
``placement.organisation.for_coordinator`` (a coordinator of one municipality
reaches that municipality and its schools only; anything else is 404), calls
one operation of ``placement.organisation.registry`` or
``placement.organisation.school_imports`` and commits.  Only a coordinator
of the whole region adds or renames municipalities.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice

from placement import audit, uploads
from placement.enums import GeoStatus
from placement.errors import NotFound, ValidationError
from placement.geo import Geocoder, GeocoderSettings
from placement.models import Municipality, School, User
from placement.organisation import for_coordinator as scope
from placement.organisation import registry, school_imports
from web.coordinator import bp
from web.coordinator.organisation_forms import (
    ConfirmSchoolImportForm,
    MunicipalityForm,
    RegionForm,
    SchoolForm,
    SchoolUploadForm,
)
from web.extensions import db
from web.labels import GEO_STATUSES

logger = logging.getLogger(__name__)

#: The key under which the session remembers the school register upload waiting for confirmation.
UPLOAD_KEY = "coordinator_school_upload"


_FIELD = re.compile(r'field "(\w+)"')


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


def _actor() -> audit.Actor:
    return audit.Actor.of(_user())


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _attach(form: FlaskForm, problems: list[str]) -> None:
    """Show a service's problems next to the fields they name; the others at the top of the page."""
    for problem in problems:
        match = _FIELD.search(problem)
        field = getattr(form, match.group(1), None) if match else None
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, problem]
        else:
            flash(problem, "error")


def _taken(form: FlaskForm, exc: registry.Taken, message: str, anonymous: str) -> None:
    field = getattr(form, exc.field)
    field.errors = [*field.errors, message if exc.holder else anonymous]


# --- municipalities and the school list --------------------------------------------------------------------------


def _municipality_form(prefix: str, municipality: Municipality | None = None) -> MunicipalityForm:
    form = MunicipalityForm(prefix=prefix)
    if municipality is not None and not form.is_submitted():
        form.municipality.data = str(municipality.id)
        form.name.data = municipality.name
        form.code.data = municipality.code or ""
    return form


def _organisation_page(
    *,
    new_form: MunicipalityForm | None = None,
    edit_form: MunicipalityForm | None = None,
    edited: Municipality | None = None,
    region_form: RegionForm | None = None,
) -> str:
    user = _user()
    regional = scope.is_regional(user)
    if regional and region_form is None:
        region_form = RegionForm(obj=registry.region(db))
    schools = registry.in_register_order(scope.schools(db, user))
    return render_template(
        "coordinator/organisation.html",
        regional=regional,
        municipalities=scope.municipalities(db, user),
        counts=Counter(school.municipality_id for school in schools),
        schools=schools,
        geo_statuses=GEO_STATUSES,
        new_form=(new_form or _municipality_form("new")) if regional else None,
        edit_form=edit_form,
        edited=edited,
        region_form=region_form if regional else None,
    )


def _regional_only() -> None:
    """Adding and renaming municipalities is for the region's coordinator; to one municipality's it does not exist."""
    if not scope.is_regional(_user()):
        raise NotFound("municipalities: only a coordinator of the whole region changes them")


@bp.get("/organisation")
def organisation() -> ResponseReturnValue:
    wanted = request.args.get("municipality", type=int)
    if wanted is None:
        return _organisation_page()
    _regional_only()
    edited = scope.municipality_for(db, _user(), wanted)
    return _organisation_page(edit_form=_municipality_form("edit", edited), edited=edited)


@bp.post("/region")
def save_region() -> ResponseReturnValue:
    form = RegionForm()
    if not form.validate_on_submit():
        return _organisation_page(region_form=form), 400
    try:
        region = registry.save_region(
            db, name=form.name.data or "", contact_email=form.contact_email.data or None, actor=_actor()
        )
    except ValidationError as exc:
        db.rollback()
        _attach(form, exc.problems)
        return _organisation_page(region_form=form), 400
    db.commit()
    flash(_("Regionen %(name)s är sparad.", name=region.name), "info")
    return redirect(url_for(".organisation"))


def _save_municipality(form: MunicipalityForm, found: Municipality | None) -> ResponseReturnValue:
    """Add a municipality (``found`` None) or rename ``found`` from the checked form; the page again on a problem."""
    status = 400
    if form.validate_on_submit():
        fields = {"name": form.name.data or "", "code": form.code.data, "actor": _actor()}
        try:
            if found is None:
                municipality = registry.add_municipality(db, **fields)
            else:
                municipality = registry.update_municipality(db, found, **fields)
        except registry.Taken as exc:
            db.rollback()
            _municipality_taken(form, exc)
            status = 409
        except ValidationError as exc:
            db.rollback()
            _attach(form, exc.problems)
        else:
            db.commit()
            said = _("Kommunen %(name)s är tillagd.") if found is None else _("Kommunen %(name)s är sparad.")
            flash(said % {"name": municipality.name}, "info")
            return redirect(url_for(".organisation") + "#municipalities")
    if found is None:
        return _organisation_page(new_form=form), status
    return _organisation_page(edit_form=form, edited=found), status


# Adding and renaming municipalities, and naming the region, are the region's coordinators' alone:
# web.coordinator.scope refuses them to a municipality's coordinator before these views run.


@bp.post("/municipalities")
def add_municipality() -> ResponseReturnValue:
    return _save_municipality(_municipality_form("new"), None)


@bp.post("/municipalities/update")
def update_municipality() -> ResponseReturnValue:
    form = _municipality_form("edit")
    wanted = form.municipality.data or ""
    if not wanted.isdigit():
        abort(400)
    return _save_municipality(form, scope.municipality_for(db, _user(), int(wanted)))


def _municipality_taken(form: MunicipalityForm, exc: registry.Taken) -> None:
    if exc.field == "name":
        _taken(
            form,
            exc,
            _("Det finns redan en kommun som heter %(name)s.", name=exc.holder),
            _("Det finns redan en kommun med det namnet."),
        )
    else:
        _taken(
            form,
            exc,
            _("Kommunkoden används redan av %(name)s.", name=exc.holder),
            _("Kommunkoden används redan av en annan kommun."),
        )


# --- a school ----------------------------------------------------------------------------------------------------


def _geocoder_settings() -> GeocoderSettings | None:
    """The geocoder settings of the app, as ``praktik geocode`` reads them; None when none are configured."""
    if not str(current_app.config.get("GEOCODER_USER_AGENT") or "").strip():
        return None
    try:
        return GeocoderSettings.from_config(current_app.config)
    except ValueError as exc:
        logger.warning("Geocoder settings refused, addresses wait for the geocoder: %s", exc)
        return None


@contextlib.contextmanager
def _geocoder() -> Iterator[Geocoder | None]:
    settings = _geocoder_settings()
    if settings is None:
        yield None
        return
    with Geocoder(settings) as geocoder:
        yield geocoder


def _school_form(school: School | None) -> SchoolForm:
    user = _user()
    form = SchoolForm()
    form.current_code = school.code if school is not None else None
    form.municipality.choices = [SelectChoice(m.id, m.name) for m in scope.municipalities(db, user)]
    if form.is_submitted():
        return form
    if school is not None:
        form.name.data = school.name
        form.code.data = school.code
        form.municipality.data = school.municipality_id
        form.address.data = school.address or ""
        form.need_index.data = school.need_index
        if school.geo_status is GeoStatus.MANUAL:  # a geocoded place is not the coordinator's to keep
            form.lat.data, form.lon.data = school.lat, school.lon
    elif len(form.municipality.choices) == 1:
        form.municipality.data = form.municipality.choices[0].value
    return form


def _school_page(form: SchoolForm, school: School | None) -> str:
    markers = []
    if school is not None and school.lat is not None and school.lon is not None:
        markers = [{"lat": school.lat, "lon": school.lon, "label": school.name}]
    return render_template(
        "coordinator/school.html",
        form=form,
        school=school,
        markers=markers,
        geo_statuses=GEO_STATUSES,
        geocoding=_geocoder_settings() is not None,
        has_municipalities=bool(form.municipality.choices),
        current_app=current_app._get_current_object(),
    )


def _school_taken(form: SchoolForm, exc: registry.Taken) -> None:
    _taken(
        form,
        exc,
        _("Koden används redan av %(name)s.", name=exc.holder),
        _("Koden används redan av en annan skola."),
    )


def _saved(school: School) -> None:
    flash(_("Skolan %(name)s är sparad.", name=school.name), "info")
    if school.geo_status is GeoStatus.PENDING and _geocoder_settings() is None:
        flash(
            _(
                "Adressuppslagning är inte inställd, så skolan väntar på sin plats på kartan. "
                "Ange latitud och longitud för att placera den nu."
            ),
            "info",
        )
    elif school.geo_status in (GeoStatus.NOT_FOUND, GeoStatus.IMPLAUSIBLE, GeoStatus.FAILED):
        flash(
            _(
                "Skolan kunde inte placeras efter adressen (%(status)s). "
                "Rätta adressen eller ange latitud och longitud.",
                status=GEO_STATUSES[school.geo_status],
            ),
            "error",
        )


def _save_school(form: SchoolForm, found: School | None) -> ResponseReturnValue:
    """Add a school (``found`` None) or change ``found`` from the checked form; the page again on a problem."""
    status = 400
    if form.validate_on_submit():
        municipality = scope.municipality_for(db, _user(), form.municipality.data or 0)
        fields = {
            "code": form.code.data or "",
            "name": form.name.data or "",
            "address": form.address.data or "",
            "need_index": form.need_index.data,
            "lat": form.lat.data,
            "lon": form.lon.data,
        }
        try:
            with _geocoder() as geocoder:
                if found is None:
                    school = registry.add_school(db, municipality, **fields, actor=_actor(), geocoder=geocoder)
                else:
                    school = registry.update_school(
                        db, found, municipality=municipality, **fields, actor=_actor(), geocoder=geocoder
                    )
        except registry.Taken as exc:
            db.rollback()
            _school_taken(form, exc)
            status = 409
        except ValidationError as exc:
            db.rollback()
            _attach(form, exc.problems)
        else:
            db.commit()
            _saved(school)
            return redirect(url_for(".school_page", school_id=school.id))
    return _school_page(form, found), (status if request.method == "POST" else 200)


@bp.route("/schools/new", methods=["GET", "POST"])
def new_school() -> ResponseReturnValue:
    return _save_school(_school_form(None), None)


@bp.route("/schools/<int:school_id>", methods=["GET", "POST"])
def school_page(school_id: int) -> ResponseReturnValue:
    found = scope.school_for(db, _user(), school_id)
    return _save_school(_school_form(found), found)


# --- the school register upload -----------------------------------------------------------------------------------


def _scope_key() -> int:
    """What an upload is staged for, kept in the store's ``school_id`` slot: the municipality, or 0 for the region."""
    return scope.municipality_of(_user()) or 0


def _only() -> Municipality | None:
    """The one municipality an import is for, or None for the whole region."""
    place = scope.municipality_of(_user())
    return None if place is None else scope.municipality_for(db, _user(), place)


def _import_page(form: SchoolUploadForm) -> str:
    return render_template("coordinator/school_import.html", form=form, only=_only())


@bp.get("/schools/import")
def school_import() -> ResponseReturnValue:
    return _import_page(SchoolUploadForm())


@bp.post("/schools/import")
def school_import_preview() -> ResponseReturnValue:
    form = SchoolUploadForm()
    if not form.validate_on_submit():
        return _import_page(form), 400
    upload = form.file.data
    data = upload.read()
    filename = upload.filename or "upload.csv"
    previous = session.pop(UPLOAD_KEY, None)
    if previous:  # a new upload replaces the one waiting for confirmation
        uploads.UploadStore(db).discard(str(previous))
        db.commit()
    try:
        report = school_imports.import_schools(
            db, data, filename, actor=_actor(), dry_run=True, municipality_id=scope.municipality_of(_user())
        )
    except ValidationError as exc:  # ImportRejected: every problem of the file
        db.rollback()
        return _preview(form, filename, problems=exc.problems)
    db.rollback()  # a preview writes nothing
    token = uploads.UploadStore(db).put(_user(), _scope_key(), filename, data)
    db.commit()
    session[UPLOAD_KEY] = token
    confirm = ConfirmSchoolImportForm(formdata=None, token=token)
    return _preview(form, filename, report=report, confirm=confirm)


def _preview(
    form: SchoolUploadForm,
    filename: str,
    *,
    problems: list[str] | None = None,
    report: Any = None,
    confirm: ConfirmSchoolImportForm | None = None,
) -> Response:
    body = render_template(
        "coordinator/school_import_preview.html",
        form=form,
        filename=filename,
        problems=problems or [],
        report=report,
        confirm=confirm,
        only=_only(),
    )
    return _no_store(Response(body, mimetype="text/html"))


@bp.post("/schools/import/confirm")
def school_import_confirm() -> ResponseReturnValue:
    form = ConfirmSchoolImportForm()
    if not form.validate_on_submit():
        abort(400)
    token = form.token.data or ""
    expected = session.get(UPLOAD_KEY) or ""
    if not hmac.compare_digest(token.encode(), str(expected).encode()):
        raise NotFound("upload: not this session's")
    store = uploads.UploadStore(db)
    staged = store.get(_user(), token)
    if staged.school_id != _scope_key():
        raise NotFound("upload: staged for another municipality")
    try:
        report = school_imports.import_schools(
            db,
            staged.data,
            staged.filename,
            actor=_actor(),
            dry_run=False,
            municipality_id=scope.municipality_of(_user()),
        )
    except ValidationError as exc:  # the database changed since the preview
        db.rollback()
        return _preview(SchoolUploadForm(), staged.filename, problems=exc.problems)
    store.discard(token)  # with the import, in its transaction
    db.commit()
    session.pop(UPLOAD_KEY, None)
    flash(
        _(
            "%(created)d nya skolor, %(updated)d ändrade, %(unchanged)d oförändrade, %(municipalities)d nya kommuner.",
            created=report.created["schools"],
            updated=report.updated["schools"],
            unchanged=report.unchanged["schools"],
            municipalities=report.created["municipalities"],
        ),
        "info",
    )
    return redirect(url_for(".organisation"))
