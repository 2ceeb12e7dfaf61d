"""Synthetic twins: shared generator pieces and the `generate` entry point.

A competition's `twin.py` defines::

    SIZES = {"tiny": ..., "small": ..., "full": ...}   # whatever its generator needs per size
    def generate(out: Path, *, size: str, seed: int) -> None

and writes, under `out`, the files Kaggle ships (names, columns, order, formats and quirks
as in its spec) plus the hidden answers in `out/solution/solution.csv`. Everything it
writes must be a pure function of (size, seed): same seed, byte-identical files.
"""

from kit.synth.core import SIZES, generate, rng, stable_hash
from kit.synth.io import CsvWriter, usage_split, write_csv, write_solution

__all__ = ["SIZES", "generate", "rng", "stable_hash", "CsvWriter", "write_csv", "write_solution",
           "usage_split"]
