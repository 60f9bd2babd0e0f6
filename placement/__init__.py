"""Praktik's domain: one package per domain, over a shared schema (``placement.models``).

This package knows nothing of Flask: views, CLI commands and scheduler jobs
all call the domain's functions with a SQLAlchemy session and own the
transaction themselves.  The README's architecture section names each package.
"""
