"""Every bad input and fault of issue 12, one parametrised test (cases in cases_*.py)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import tests.faults as pkg
from tests.faults.harness import Case, run_case


def _cases() -> list[Case]:
    out: list[Case] = []
    for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if m.name.startswith("cases_"):
            out.extend(importlib.import_module(f"tests.faults.{m.name}").CASES)
    return out


CASES = _cases()


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[getattr(pytest.mark, m) for m in c.marks])
                                  for c in CASES])
def test_fault(case: Case, tmp_path, tiny_twin):
    run_case(case, tmp_path, tiny_twin)
