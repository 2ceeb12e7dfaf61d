"""The generate driver: staged writes, no half-made twin, reproducible random streams."""

import types

import numpy as np
import pytest

from kit.errors import KitError
from kit.spec import get
from kit.synth import core, rng, stable_hash


def test_streams_are_stable_and_independent():
    a1 = rng(0, "train").random(3)
    a2 = rng(0, "train").random(3)
    b = rng(0, "test").random(3)
    c = rng(1, "train").random(3)
    assert np.array_equal(a1, a2)
    assert not np.array_equal(a1, b) and not np.array_equal(a1, c)
    assert stable_hash("x", 1) == stable_hash("x", 1) != stable_hash("x", 2)


def test_unknown_size(tmp_path):
    with pytest.raises(KitError, match="unknown size 'huge'; choose one of tiny, small, full"):
        core.generate(get("rossmann"), tmp_path, size="huge")


def test_crash_leaves_previous_data_untouched(tmp_path, monkeypatch):
    comp = get("porto_seguro")
    (tmp_path / "train.csv").write_text("old\n")
    (tmp_path / core.MARKER).write_text("{}")  # an earlier twin's file: the only kind generate replaces

    def boom(out, *, size, seed):
        (out / "train.csv").write_text("half")
        raise RuntimeError("disk on fire")

    fake = types.SimpleNamespace(name=comp.name, spec=comp.spec,
                                 load=lambda part: types.SimpleNamespace(generate=boom))
    with pytest.raises(RuntimeError, match="disk on fire"):
        core.generate(fake, tmp_path, size="tiny")
    assert (tmp_path / "train.csv").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [core.MARKER, "train.csv"]  # no staging folder left


def test_missing_file_is_a_generator_bug(tmp_path):
    comp = get("porto_seguro")
    fake = types.SimpleNamespace(name=comp.name, spec=comp.spec,
                                 load=lambda part: types.SimpleNamespace(generate=lambda out, **k: None))
    with pytest.raises(RuntimeError, match="did not write: .*train.csv"):
        core.generate(fake, tmp_path, size="tiny")
    assert not (tmp_path / core.MARKER).exists()
