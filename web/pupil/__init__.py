"""The pupil's pages: offers, ranking, placement, evaluation."""

from flask import Blueprint

from placement.enums import Role
from web.access import require_role

bp = Blueprint("pupil", __name__)
require_role(bp, Role.PUPIL)

from web.pupil import views  # noqa: E402, F401
