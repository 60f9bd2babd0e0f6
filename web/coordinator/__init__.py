"""The practicum coordinator's pages: season set-up, overview, allocation rounds."""

from flask import Blueprint

from placement.enums import Role
from web.access import require_role

bp = Blueprint("coordinator", __name__)
require_role(bp, Role.COORDINATOR)

from web.coordinator import organisation, people, scope, views  # noqa: E402, F401
