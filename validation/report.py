"""Markdown and self-contained HTML report: the verdict table and the figures (docs/design.md CLI).

Reads ``verdicts.json`` and the figures of a results folder; writes ``report.md`` (figures
linked) and ``report.html`` (figures embedded as base64 PNG, so the file stands alone).
"""

from __future__ import annotations

import base64
import html
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .claims import CLAIM_IDS, get_claim


def fmt_slope(x: float | None) -> str:
    return "—" if x is None else f"{x:+.3f}"


def fmt_ci(r: dict[str, Any]) -> str:
    if r.get("measured") is None:
        return "—"
    if r.get("ci_low") is None:
        return f"{r['measured']:+.3f}"
    return f"{r['measured']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"


def table_rows(verdicts: list[dict[str, Any]]) -> list[list[str]]:
    """Rows of the verdict table: claim, variant, claimed, derived, measured +- CI, status."""
    rows = []
    for r in verdicts:
        claimed = r.get("claimed_text") or fmt_slope(r.get("claimed"))
        rows.append([r["id"], r["variant"], claimed, fmt_slope(r.get("derived")), fmt_ci(r),
                     r["status"]])
    return rows


HEADER = ["claim", "variant", "claimed", "derived", "measured [95% CI]", "status"]


def _fmt_band(r: dict[str, Any]) -> str:
    band = r.get("band") or []
    if len(band) != 2:
        return f"±{r.get('tolerance')}"
    lo, hi = ("-inf" if band[0] is None else f"{band[0]:+g}",
              "+inf" if band[1] is None else f"{band[1]:+g}")
    return f"[{lo}, {hi}]"


def _details(r: dict[str, Any]) -> list[str]:
    lines = []
    if r.get("sizes"):
        pts = ", ".join(f"{s:g}: {('%.3e' % e) if e is not None else 'n/a'}"
                        for s, e in zip(r["sizes"], r["errors"]))
        lines.append(f"errors ({r.get('size_label', 'size')}): {pts}")
        pw = ", ".join("n/a" if p is None else f"{p:+.3f}" for p in r.get("pairwise", []))
        lines.append(f"pairwise slopes: {pw}")
        lines.append(f"fit: {r.get('method')}, suite {r.get('suite')}, "
                     f"band {_fmt_band(r)}, {r.get('role', 'exploratory')} variant, "
                     f"{r.get('seconds', 0):.1f} s")
    if r.get("derived_text"):
        lines.append(f"derived: {r['derived_text']}")
    lines.extend(f"note: {n}" for n in r.get("notes", []))
    return lines


def write_report(verdicts: list[dict[str, Any]], figures: dict[str, list[Path]], out_dir: Path
                 ) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = table_rows(verdicts)

    md = ["# infdepth validation report", "", f"Generated {stamp}. Verdicts are outputs: "
          "`confirmed` when the 95% CI of the fitted slope lies inside the claim's tolerance "
          "band, `refuted` when it excludes it, `inconclusive` otherwise (docs/theory.md s9).", "",
          "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    md += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    md.append("")
    for cid in dict.fromkeys(r["id"] for r in verdicts):
        claim = get_claim(cid) if cid in CLAIM_IDS else None
        md += [f"## {cid}", "", f"[{claim.source}] {claim.statement}. Measured: "
               f"{claim.quantity}." if claim else "", ""]
        for r in (r for r in verdicts if r["id"] == cid):
            md.append(f"**{r['variant']}** — {r['status']}")
            md += [f"- {line}" for line in _details(r)]
            md.append("")
        for p in figures.get(cid, []):
            if p.suffix == ".png":
                md += [f"![{cid}]({p.relative_to(out_dir) if p.is_relative_to(out_dir) else p})",
                       ""]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(md) + "\n")

    def esc(s: str) -> str:
        return html.escape(str(s))

    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>infdepth report</title>",
             "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
             ".confirmed{background:#d9f2d9}.refuted{background:#f8d7d7}"
             ".inconclusive{background:#fff3cd}img{max-width:640px}</style></head><body>",
             "<h1>infdepth validation report</h1>", f"<p>Generated {esc(stamp)}.</p>",
             "<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in HEADER) + "</tr>"]
    for row in rows:
        parts.append(f"<tr class='{esc(row[-1]).replace(' ', '-')}'>"
                     + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
    parts.append("</table>")
    for cid in dict.fromkeys(r["id"] for r in verdicts):
        parts.append(f"<h2>{esc(cid)}</h2>")
        for r in (r for r in verdicts if r["id"] == cid):
            parts.append(f"<p><b>{esc(r['variant'])}</b> — {esc(r['status'])}</p><ul>"
                         + "".join(f"<li>{esc(x)}</li>" for x in _details(r)) + "</ul>")
        for p in figures.get(cid, []):
            if p.suffix == ".png" and p.exists():
                data = base64.b64encode(p.read_bytes()).decode()
                parts.append(f"<img alt='{esc(cid)}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    html_path = out_dir / "report.html"
    html_path.write_text("\n".join(parts))
    return md_path, html_path
