"""The explanation of a run as one self-contained HTML page: every picture embedded, read top
to bottom (what the model leans on, what is redundant, how predictions move, one row, where
the model is unsure, what extrapolates, what the network learned)."""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from kit.atomic import write_text

__all__ = ["Section", "render", "write_page"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1180px;padding:24px 32px;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:0.2em} h2{border-bottom:2px solid #4c72b0;padding-bottom:4px;margin-top:2.2em}
.meta{color:#555} .lead{color:#333;max-width:900px} .skipped{color:#8a6d3b;background:#fcf8e3;padding:8px 12px}
ul.findings li{margin:3px 0} img{max-width:100%;border:1px solid #ddd;margin:10px 0}
table{border-collapse:collapse;font-size:0.85em;margin:8px 0 16px} caption{text-align:left;font-weight:600;padding:4px 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right} th{background:#f3f5f9} td.s{text-align:left}
nav a{margin-right:14px} .secs{color:#888;font-size:0.85em}
"""


@dataclass
class Section:
    """One part of the page."""

    key: str
    title: str
    #: what the part shows and how to read it, one paragraph
    lead: str
    #: the sentences that matter (numbers included)
    findings: list[str] = field(default_factory=list)
    #: PNG files (relative to the explain folder), in order
    figures: list[str] = field(default_factory=list)
    #: (caption, frame) pairs shown as tables (their first rows)
    tables: list[tuple[str, pl.DataFrame]] = field(default_factory=list)
    #: (text, href) links, e.g. to the raw files' adversarial report
    links: list[tuple[str, str]] = field(default_factory=list)
    #: files with the numbers behind the figures (relative names)
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: why the part did not run for this model (None: it ran)
    skipped: str | None = None

    def to_dict(self) -> dict:
        """JSON-able (explain.json keeps every section, so a later `--parts` rerun keeps the others)."""
        return {"key": self.key, "title": self.title, "lead": self.lead, "findings": self.findings,
                "figures": self.figures, "links": [list(x) for x in self.links], "files": self.files,
                "seconds": self.seconds, "skipped": self.skipped,
                "tables": [{"caption": c, "columns": t.columns, "rows": [list(r) for r in t.rows()]}
                           for c, t in self.tables]}

    @classmethod
    def from_dict(cls, d: dict) -> Section:
        tables = [(t["caption"], pl.DataFrame(t["rows"], schema=t["columns"], orient="row")) for t in d["tables"]]
        return cls(d["key"], d["title"], d["lead"], list(d["findings"]), list(d["figures"]), tables,
                   [tuple(x) for x in d["links"]], list(d["files"]), float(d["seconds"]), d["skipped"])

    def paths(self) -> list[str]:
        """Every file the section wrote (relative to the explain folder)."""
        return [*self.figures, *self.files]


def _cell(v) -> str:
    if isinstance(v, float):
        if abs(v) < 1e-12:  # a gain share of 6e-19 is a zero that floating point kept
            return "0"
        return f"{v:.4g}" if abs(v) >= 1e-3 else f"{v:.2e}"
    return html.escape("" if v is None else str(v))


def _table(caption: str, frame: pl.DataFrame, limit: int = 15) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = []
    for r in frame.head(limit).iter_rows():
        rows.append("<tr>" + "".join(f"<td class='{'' if isinstance(v, (int, float)) else 's'}'>{_cell(v)}</td>"
                                     for v in r) + "</tr>")
    more = f" (first {limit} of {frame.height})" if frame.height > limit else ""
    return f"<table><caption>{html.escape(caption)}{more}</caption><tr>{head}</tr>{''.join(rows)}</table>"


def _image(folder: Path, name: str) -> str:
    data = base64.b64encode((folder / name).read_bytes()).decode("ascii")
    return f"<img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>"


def render(folder: str | os.PathLike, title: str, meta: Sequence[str], sections: Sequence[Section]) -> str:
    """The page's HTML, with each section's PNGs (read from `folder`) embedded."""
    folder = Path(folder)
    nav = " ".join(f"<a href='#{s.key}'>{html.escape(s.title)}</a>" for s in sections)
    body = [f"<h1>{html.escape(title)}</h1>", *[f"<p class='meta'>{html.escape(m)}</p>" for m in meta],
            f"<nav>{nav}</nav>"]
    for s in sections:
        body.append(f"<h2 id='{s.key}'>{html.escape(s.title)} <span class='secs'>({s.seconds:.1f} s)</span></h2>")
        body.append(f"<p class='lead'>{html.escape(s.lead)}</p>")
        if s.skipped:
            body.append(f"<p class='skipped'>{html.escape(s.skipped)}</p>")
            continue
        if s.findings:
            body.append("<ul class='findings'>" + "".join(f"<li>{html.escape(f)}</li>" for f in s.findings) + "</ul>")
        body += [_image(folder, f) for f in s.figures]
        body += [_table(c, t) for c, t in s.tables]
        for text, href in s.links:
            body.append(f"<p><a href='{html.escape(href)}'>{html.escape(text)}</a></p>")
        if s.files:
            body.append("<p class='meta'>numbers: " + ", ".join(html.escape(f) for f in s.files) + "</p>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")


def write_page(path: str | os.PathLike, folder: str | os.PathLike, title: str, meta: Sequence[str],
               sections: Sequence[Section]) -> Path:
    """`render(...)` written to `path` atomically."""
    return write_text(path, render(folder, title, meta, sections))
