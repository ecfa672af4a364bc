"""Fixtures of the migration tests (see helpers.py)."""

from tests.migration.helpers import data_dir

__all__ = ["data_dir"]
