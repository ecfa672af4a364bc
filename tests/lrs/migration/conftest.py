"""Fixtures of the migration tests (see helpers.py)."""

from tests.lrs.migration.helpers import data_dir

__all__ = ["data_dir"]
