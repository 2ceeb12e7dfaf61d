"""Shared fixtures: tiny twins are generated once per test session and reused."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.spec import get, registry
from kit.synth import generate

NAMES = sorted(registry())


@pytest.fixture(scope="session")
def tiny_twin(tmp_path_factory):
    """`tiny_twin(name)` -> the folder of that competition's tiny twin (seed 0), made once."""
    made: dict[str, Path] = {}

    def make(name: str) -> Path:
        if name not in made:
            folder = tmp_path_factory.mktemp(f"{name}-tiny")
            generate(get(name), folder, size="tiny", seed=0)
            made[name] = folder
        return made[name]

    return make
