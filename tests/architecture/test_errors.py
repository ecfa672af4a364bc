"""Every error class of every package maps to an HTTP status, and each name means one thing.

The classes are found by importing every module of the packages, not from a list, so a new
error class is checked the day it is written.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest

import console
import lrs
import lti
import projections
import scorm_adapter
from lrs.errors import LRSError

PACKAGES: tuple[ModuleType, ...] = (lrs, lti, scorm_adapter, projections, console)


def _modules() -> list[ModuleType]:
    found = []
    for package in PACKAGES:
        found.append(package)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            found.append(importlib.import_module(info.name))
    return found


def _error_classes() -> list[type[BaseException]]:
    """Every exception class defined in the packages (not the ones they import)."""
    classes = {
        value
        for module in _modules()
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__
    }
    return sorted(classes, key=lambda c: (c.__module__, c.__qualname__))


ERROR_CLASSES = _error_classes()
LRS_ERRORS = [c for c in ERROR_CLASSES if issubclass(c, LRSError)]


def test_the_walk_finds_the_errors_of_every_package() -> None:
    packages = {c.__module__.partition(".")[0] for c in LRS_ERRORS}
    assert packages == {"lrs", "lti", "scorm_adapter", "projections"}
    assert len(LRS_ERRORS) > 30


@pytest.mark.parametrize("cls", LRS_ERRORS, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_every_error_class_has_a_client_or_server_error_status(cls: type[LRSError]) -> None:
    assert isinstance(cls.status, int)
    assert 400 <= cls.status <= 599
    assert isinstance(cls.code, str) and cls.code


def test_no_two_packages_define_an_error_class_of_the_same_name() -> None:
    packages_by_name: dict[str, set[str]] = {}
    for cls in ERROR_CLASSES:
        packages_by_name.setdefault(cls.__name__, set()).add(cls.__module__.partition(".")[0])
    shared = {name: sorted(p) for name, p in packages_by_name.items() if len(p) > 1}
    assert shared == {}
