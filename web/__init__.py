"""Praktik's Flask application.

``create_app`` is imported lazily so that ``praktik solve`` (which only needs
the solver) does not pay for importing Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from web.app import create_app

        return create_app
    raise AttributeError(name)
