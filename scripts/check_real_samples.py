"""Compare the competition specs (and optionally a twin) with real Kaggle files.

Usage:
    python scripts/check_real_samples.py SAMPLES_DIR [--twin-root DATA_ROOT]

SAMPLES_DIR holds one folder per competition with real files or their heads, named like
the real ones with an optional `.head` before the extension (e.g. rossmann/test.head.csv).
For each real file that a spec names, it checks the header line byte for byte against what
the spec says (column names, order, quoting, line ending), and that polars infers the spec's
column types from the real rows. With --twin-root, the twin's file in DATA_ROOT/<name>/ must
have the very same header bytes. Exits 1 on any mismatch. Never used by the kit itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

from kit.spec import registry

TYPES = {"int": pl.Int64, "float": pl.Float64, "str": pl.String, "bool": pl.Boolean,
         "date": pl.String, "datetime": pl.String}


def header_bytes(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.readline()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("samples", type=Path)
    ap.add_argument("--twin-root", type=Path)
    args = ap.parse_args()
    bad = checked = 0
    for name, comp in registry().items():
        for f in comp.spec.files:
            if not f.columns:
                continue
            stem, dot, ext = f.name.rpartition(".")
            candidates = [args.samples / name / f.name, args.samples / name / f"{stem}.head.{ext}"]
            real = next((c for c in candidates if c.exists()), None)
            if real is None:
                continue
            checked += 1
            problems = []
            real_header = header_bytes(real)
            names = [c.strip('"') for c in real_header.decode().rstrip("\r\n").split(",")]
            if names != list(f.column_names):
                problems.append(f"columns differ: real {names} spec {list(f.column_names)}")
            ending = "\r\n" if real_header.endswith(b"\r\n") else "\n"
            if ending != f.line_terminator:
                problems.append(f"line ending: real {ending!r} spec {f.line_terminator!r}")
            quoted = real_header.startswith(b'"')
            if quoted != (f.quote_style in ("non_numeric", "columns")):
                problems.append(f"quoting: real header quoted={quoted}, spec quote_style={f.quote_style}")
            schema = pl.read_csv(real, infer_schema_length=None).schema
            notes = []
            for col in f.columns:
                got = schema.get(col.name)
                if got is None or got == pl.Null or got == TYPES[col.type]:
                    continue
                if ".head." in real.name and col.type in ("str", "float"):
                    # a file's first rows can look narrower than the whole file (all-"0" StateHoliday)
                    notes.append(f"{col.name}: the head infers {got}, spec says {col.type} (whole file)")
                else:
                    problems.append(f"{col.name}: real rows infer {got}, spec says {col.type}")
            if args.twin_root:
                twin = args.twin_root / name / f.name
                if twin.exists() and header_bytes(twin) != real_header:
                    problems.append(f"twin header differs: {header_bytes(twin)[:80]!r}...")
            status = "ok " if not problems else "BAD"
            print(f"{status} {name}/{f.name}  (vs {real.name})")
            for p in problems:
                print(f"      {p}")
            for n in notes:
                print(f"      note: {n}")
            bad += bool(problems)
    print(f"{checked} files checked, {bad} with differences")
    return 1 if bad or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
