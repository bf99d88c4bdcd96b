"""Fixtures shared by test modules."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """SF_MOBILE_CACHE in a tmp folder for the whole module, so the sample clip never lands in ~."""
    path = tmp_path_factory.mktemp("sf-mobile-cache")
    old = os.environ.get("SF_MOBILE_CACHE")
    os.environ["SF_MOBILE_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("SF_MOBILE_CACHE", None)
    else:
        os.environ["SF_MOBILE_CACHE"] = old
