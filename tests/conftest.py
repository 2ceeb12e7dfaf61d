"""Shared fixtures: tiny and small twins are generated once per test session and reused."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.spec import get, registry
from kit.synth import generate

NAMES = sorted(registry())


def _twins(tmp_path_factory, size: str):
    made: dict[str, Path] = {}

    def make(name: str) -> Path:
        if name not in made:
            folder = tmp_path_factory.mktemp(f"{name}-{size}")
            generate(get(name), folder, size=size, seed=0)
            made[name] = folder
        return made[name]

    return make


@pytest.fixture(scope="session")
def tiny_twin(tmp_path_factory):
    """`tiny_twin(name)` -> the folder of that competition's tiny twin (seed 0), made once per
    session. Read it, never write into it: copy it first (shutil.copytree) to change it."""
    return _twins(tmp_path_factory, "tiny")


@pytest.fixture(scope="session")
def small_twin(tmp_path_factory):
    """`small_twin(name)` -> the folder of that competition's small twin (seed 0), made once per
    session; read only, as tiny_twin."""
    return _twins(tmp_path_factory, "small")
