"""Praktik's domain model and services.

This package knows nothing of Flask: views, CLI commands and scheduler jobs
all call the services in :mod:`placement.services` with a SQLAlchemy session
and own the transaction themselves.
"""
