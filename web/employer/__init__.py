"""The employer contact's pages."""

from flask import Blueprint

from placement.enums import Role
from web.access import require_role

bp = Blueprint("employer", __name__)
require_role(bp, Role.EMPLOYER_CONTACT)

from web.employer import views  # noqa: E402, F401
