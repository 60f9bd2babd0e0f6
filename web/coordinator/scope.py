"""One guard for a coordinator of one municipality: every record a coordinator URL names must be within it.

A coordinator of the whole region passes.  For a coordinator of one
municipality, each int parameter of the URL is looked up by its name through
the domain's coordinator scoping (``placement.organisation.for_coordinator``,
``placement.rounds.for_coordinator``), which answers NotFound (404) for a
record of another municipality or of the whole region.  A parameter this
guard does not know is refused (deny by default), as is every page that acts
for the whole region (the season's periods and choice window, the scheduler
and the outbox).  The views still find their records through the same
scoping, so a view and this guard cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, request
from flask_login import current_user
from sqlalchemy.orm import Session

from placement.organisation import for_coordinator as organisation
from placement.rounds import for_coordinator as rounds
from web.coordinator import bp
from web.extensions import db

#: Each int parameter of a coordinator URL and the lookup that raises NotFound outside the municipality;
#: None for people's ids, which the views' services check against the place the URL also names.
CHECKS: dict[str, Callable[[Session, object, int], object] | None] = {
    "round_id": rounds.round_for,
    "pupil_id": rounds.pupil_for,
    "school_id": organisation.school_for,
    "employer_id": organisation.employer_for,
    "invitation_id": organisation.invitation_for,
    "municipality_id": organisation.municipality_for,
    "staff_id": None,
    "contact_id": None,
    "coordinator_id": None,
}
#: Pages that act for the whole region: a coordinator of one municipality does not reach them.
REGIONAL_ONLY = frozenset(
    {
        "coordinator.save_region",
        "coordinator.add_municipality",
        "coordinator.update_municipality",
        "coordinator.add_period",
        "coordinator.save_window",
        "coordinator.scheduler_page",
        "coordinator.resend_message",
    }
)


@bp.before_request
def _within_municipality() -> None:
    user = current_user._get_current_object()
    if not user.is_authenticated or organisation.is_regional(user):
        return
    if request.endpoint in REGIONAL_ONLY:
        abort(404)
    for name, value in (request.view_args or {}).items():
        if not isinstance(value, int):
            continue
        if name not in CHECKS:
            abort(404)  # deny by default: a new parameter must say how it is scoped
        check = CHECKS[name]
        if check is not None:
            check(db, user, value)
