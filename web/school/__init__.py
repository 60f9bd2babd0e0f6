"""The school staff's pages: classes, pupils, cohort import, preferences, codes, status."""

from flask import Blueprint

from placement.enums import Role
from web.access import require_role

bp = Blueprint("school", __name__)
require_role(bp, Role.SCHOOL_STAFF)

from web.school import views  # noqa: E402, F401
