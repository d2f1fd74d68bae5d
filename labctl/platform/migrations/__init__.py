"""Alembic migrations of the platform schema, shipped in the package so an install can migrate."""
