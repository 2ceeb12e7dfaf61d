"""`kit explain`: every part of the explanation of one run, written to RUN/explain/.

    run = load_run(comp, folder, "lgbm")                  # kit.explain.context
    result = explain(run, ExplainOptions(row="1017"))     # RUN/explain/report.html, PNGs, numbers

The parts are in kit.explain.parts. The folder is built aside and swapped in whole
(kit.atomic.atomic_dir); the parts not asked for this time (`--parts`) are kept from the last
explanation, so a rerun of one part does not lose the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from kit.atomic import atomic_dir, write_json
from kit.explain.html import Section, write_page
from kit.explain.parts import PARTS, ExplainOptions, Parts, check_options

__all__ = ["PARTS", "ExplainOptions", "ExplainResult", "explain"]


@dataclass(frozen=True)
class ExplainResult:
    """What `explain` wrote."""

    folder: Path
    page: Path
    sections: tuple[Section, ...] = field(repr=False)
    #: the parts computed this time (the others were kept from the last explanation)
    computed: tuple[str, ...] = ()

    @property
    def seconds(self) -> dict[str, float]:
        return {s.key: s.seconds for s in self.sections}


def _previous_sections(folder: Path) -> dict[str, Section]:
    """The sections of an earlier explanation in `folder` whose files are all there (none when
    there is none, or when it was written by another version)."""
    import json

    try:
        saved = json.loads((folder / "explain.json").read_text())["sections"]
        sections = [Section.from_dict(d) for d in saved]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {s.key: s for s in sections if all((folder / p).is_file() for p in s.paths())}


def _keep(section: Section, old: Path, new: Path) -> Section:
    import shutil

    for p in section.paths():
        (new / p).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(old / p, new / p)
    return section


def explain(run, options: ExplainOptions | None = None, *, log: Callable[[str], None] = print) -> ExplainResult:
    """Every part of `options` for `run` (kit.explain.context.RunModels), written to RUN/explain/
    (report.html, PNGs, numbers, explain.json), replaced whole."""
    options = options or ExplainOptions()
    check_options(run, options)  # before minutes of work
    dest = run.path / "explain"
    sections = []
    previous = _previous_sections(dest)
    with atomic_dir(dest) as tmp:
        parts = Parts(run, options, tmp, log)
        if "importance" not in options.parts and "importance" in previous:  # the order the last one found
            known = set(run.features)
            order = [f for f in pl.read_parquet(dest / "importance.parquet")["feature"].to_list() if f in known]
            parts.order = order + [f for f in run.features if f not in set(order)]
        for name in PARTS:  # page order, whatever the order asked
            if name not in options.parts:
                if name in previous:  # a part not asked for this time stays as it was
                    sections.append(_keep(previous[name], dest, tmp))
                continue
            t0 = time.perf_counter()
            log(f"{run.name}: {name} ...")
            section = getattr(parts, name)()
            section.seconds = time.perf_counter() - t0
            log(f"{run.name}: {name} done ({section.seconds:.1f}s)" + (f"; {section.skipped}" if section.skipped else ""))
            sections.append(section)
        meta = [f"{run.comp.spec.name} · run {run.name} ({run.model}) · validation {run.metric.upper()} "
                f"{run.config.get('folds', {}).get('scheme', '')} · {run.prepared.n_rows:,} training rows, "
                f"{len(run.features)} features" + (f" · trained without {', '.join(run.prepared.dropped)}"
                                                   if run.prepared.dropped else "")]
        write_json(tmp / "explain.json", {"run": run.name, "model": run.model, "competition": run.comp.spec.name,
                                          "seconds": {s.key: s.seconds for s in sections},
                                          "skipped": {s.key: s.skipped for s in sections if s.skipped},
                                          "findings": {s.key: s.findings for s in sections},
                                          "sections": [s.to_dict() for s in sections]})
        write_page(tmp / "report.html", tmp, f"Explaining {run.name}", meta, sections)
    return ExplainResult(dest, dest / "report.html", tuple(sections),
                         tuple(p for p in PARTS if p in options.parts))
