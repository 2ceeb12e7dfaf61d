"""Example cases (kept as real checks): unknown competition, missing sample submission."""

from __future__ import annotations

from tests.faults.harness import Case

CASES = [
    Case("unknown-competition", ["train", "nosuch", "--model", "lgbm", "--data-dir", "{data}"], r"unknown competition", competition=None),
    Case("sample-submission-missing", ["baseline", "rossmann", "--data-dir", "{data}", "-o", "{tmp}/sub.csv"],
         r"sample_submission\.csv.*kit download rossmann --file sample_submission\.csv",
         setup=lambda tmp, data: (data / "sample_submission.csv").unlink()),
]
