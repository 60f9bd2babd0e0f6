"""Who may reach what.  Every blueprint declares its role; objects are checked for ownership.

Foreign objects answer 404, not 403, so that ids cannot be probed: another
tenant's objects are not even shown to exist.  Denials are logged.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from placement.enums import Role

logger = logging.getLogger(__name__)


def require_role(bp: Blueprint, *roles: Role) -> None:
    """Every view of ``bp`` requires a logged-in user with one of ``roles``."""

    @bp.before_request
    def _check() -> ResponseReturnValue | None:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
        if current_user.role not in roles:
            logger.warning("authz_denied user=%s role=%s path=%s", current_user.id, current_user.role, request.path)
            abort(404)
        return None
