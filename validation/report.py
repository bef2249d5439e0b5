"""Markdown and self-contained HTML report (docs/design.md): the verdict rule, the claims at a
glance (primary verdict against the claim and against theory, settled or not, noise budget,
negative control), every verdict row with its details and figures, the calibration table of the
fitting pipeline when the results folder holds one, and the provenance of the run.

``report.md`` links the figures; ``report.html`` embeds them (base64 PNG, scaled to the page
width), so it stands alone.
"""

from __future__ import annotations

import base64
import html
import math
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from infdepth.atomic_io import atomic_write_text

from .claims import CLAIM_IDS, get_claim

RULE = (
    "A verdict is an output, never tuned. Each claim declares before its data are seen its "
    "primary variant (the test), its band of accepted slopes (the claimed slope ± tolerance, "
    "0.15 unless the claim says otherwise) and a negative control that must come out refuted; "
    "other variants are exploratory. A slope is fitted on log-log axes over the sizes whose "
    "statistic clears the noise floor (twice its standard error, seed noise and the "
    "reference's own error in quadrature; norms of noisy means are bias-corrected first), with "
    "the calibrated 95% interval (docs/theory.md s9). **confirmed**: the interval lies inside "
    "the band and the fit on the sweep's tail does not leave it. **refuted**: the interval "
    "excludes the band, the tail does too, and doubling the seeds moves the slope by less than "
    "the half-width. **inconclusive (noise-limited)**: the interval straddles a band edge, or a "
    "refutation is not robust; the row names the seeds that would decide it. **not settled "
    "(pre-asymptotic)**: the whole sweep and its tail disagree; the row names how many more "
    "doublings of the size the drift of the pairwise slopes would need. Each row is also "
    "decided against the band around the exponent the theory layer derives.")

HEADER = ["claim", "variant", "role", "claimed", "derived", "measured [95% CI]", "vs claimed",
          "vs derived"]
GLANCE = ["claim", "primary", "measured [95% CI]", "vs claimed", "vs derived", "settled",
          "min SNR", "control"]
STATUS_CLASS = {"confirmed": "ok", "refuted": "bad", "inconclusive (noise-limited)": "noise",
                "not settled (pre-asymptotic)": "unsettled", "inconclusive": "noise"}


#: what the report says where a calibration target is missed
CALIBRATION_MISSES = ("Where a target is missed, the verdict rows it concerns say so: the "
                      "interval of a norm of a noisy mean at signal-to-noise about 1 with 8 "
                      "seeds covers less than 93% (noisy_mean_norm_low_snr), and one row's data "
                      "cannot tell that case from a clean signal, so every norm-of-mean row with "
                      "fewer than 16 seeds carries a caveat in its notes.")

def fmt_slope(x: float | None) -> str:
    return "—" if x is None else f"{x:+.3f}"


def fmt_ci(r: dict[str, Any]) -> str:
    if r.get("measured") is None:
        return "—"
    if r.get("ci_low") is None:
        return f"{r['measured']:+.3f}"
    return f"{r['measured']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"


def _min_snr(r: dict[str, Any]) -> str:
    vals = [v for v, u in zip(r.get("snr") or [], r.get("used") or []) if u and v is not None]
    if not vals:
        return "—"
    m = min(vals)
    return "exact" if math.isinf(m) else f"{m:.1f}"


def _settled(r: dict[str, Any]) -> str:
    return {True: "yes", False: "no", None: "—"}[r.get("settled")]


def table_rows(verdicts: list[dict[str, Any]]) -> list[list[str]]:
    """Rows of the verdict table (:data:`HEADER`); the last two cells are the statuses against
    the claimed band and against the derived one."""
    rows = []
    for r in verdicts:
        claimed = r.get("claimed_text") or fmt_slope(r.get("claimed"))
        rows.append([r["id"], r["variant"], r.get("role", "exploratory"), claimed,
                     fmt_slope(r.get("derived")), fmt_ci(r), r["status"],
                     r.get("status_derived", "n/a")])
    return rows


def glance_rows(verdicts: list[dict[str, Any]]) -> list[list[str]]:
    """One row per claim and named convention (:data:`GLANCE`): its primary variant and its
    negative control."""
    rows = []
    for cid, conv in dict.fromkeys((r["id"], r.get("convention", "default")) for r in verdicts):
        mine = [r for r in verdicts
                if r["id"] == cid and r.get("convention", "default") == conv]
        prim = next((r for r in mine if r.get("role") == "primary"), None)
        ctrl = [r for r in mine if r.get("role") == "control"]
        control = ", ".join(("FLAGGED: " if c["status"] == "confirmed" else "") + c["status"]
                            for c in ctrl) or "—"
        if prim is None:
            rows.append([cid, "—", "—", "—", "—", "—", "—", control])
            continue
        rows.append([cid, prim["variant"], fmt_ci(prim), prim["status"],
                     prim.get("status_derived", "n/a"), _settled(prim), _min_snr(prim),
                     control])
    return rows


def flagged_controls(verdicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Negative controls that came out confirmed: the method failed to refute what it must."""
    return [r for r in verdicts if r.get("role") == "control" and r["status"] == "confirmed"]


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
        if r.get("snr"):
            lines.append("signal-to-noise: " + ", ".join(
                "n/a" if v is None else ("exact" if math.isinf(v) else f"{v:.1f}")
                for v in r["snr"]))
        pw = ", ".join("n/a" if p is None else f"{p:+.3f}" for p in r.get("pairwise", []))
        lines.append(f"pairwise slopes: {pw}")
        tail = r.get("tail_ci") or []
        if r.get("tail_slope") is not None and len(tail) == 2 and None not in tail:
            lines.append(f"tail fit {r['tail_slope']:+.3f} [{tail[0]:+.3f}, {tail[1]:+.3f}]"
                         + (f"; half the seeds {r['half_slope']:+.3f}"
                            if r.get("half_slope") is not None else ""))
        lines.append(f"fit: {r.get('interval') or r.get('method')} interval, "
                     f"{r.get('seeds', 0)} seeds, suite {r.get('suite')}, band {_fmt_band(r)}, "
                     f"{r.get('role', 'exploratory')} variant, {r.get('seconds', 0):.1f} s")
    for key, what in (("reason", "vs claimed"), ("reason_derived", "vs derived")):
        if r.get(key):
            lines.append(f"{what}: {r[key]}")
    if r.get("advice"):
        lines.append(f"to decide it: {r['advice']}")
    if r.get("derived_text"):
        lines.append(f"derived: {r['derived_text']}")
    lines.extend(f"note: {n}" for n in r.get("notes", []))
    return lines


def provenance(verdicts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What produced these results: commit, versions, device, suite(s), date."""
    from importlib import metadata

    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "not installed"

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    pkgs = ("infdepth", "torch", "numpy", "scipy", "sympy", "pandas", "matplotlib")
    return [("git commit", commit or "unknown"),
            ("suites", ", ".join(sorted({str(r.get("suite")) for r in verdicts}))),
            ("devices", ", ".join(sorted({f"{r.get('device', 'cpu')}/{r.get('dtype', 'float64')}"
                                          for r in verdicts}))),
            ("date", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
            ("python", f"{sys.version.split()[0]} on {platform.platform()}"),
            ("packages", ", ".join(f"{p} {version(p)}" for p in pkgs))]


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]


def _html_table(header: list[str], rows: list[list[str]], status_cols: tuple[int, ...]) -> str:
    def esc(s: str) -> str:
        return html.escape(str(s))
    out = ["<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            cls = STATUS_CLASS.get(c, "bad" if c.startswith("FLAGGED") else "")
            cells.append(f"<td class='{cls}'>{esc(c)}</td>" if i in status_cols and cls
                         else f"<td>{esc(c)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(out) + "</table>"


def write_report(verdicts: list[dict[str, Any]], figures: dict[str, list[Path]], out_dir: Path,
                 calibration=None) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` under ``out_dir``; ``calibration``: the frame of
    :func:`~infdepth.validation.calibration.calibrate` (or ``None``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, glance, prov = table_rows(verdicts), glance_rows(verdicts), provenance(verdicts)
    flagged = flagged_controls(verdicts)
    md = ["# infdepth validation report", "", "## Verdict rule", "", RULE, "",
          "## Claims at a glance", ""] + _md_table(GLANCE, glance) + [""]
    if flagged:
        md += [f"**Flagged:** {len(flagged)} negative control(s) came out confirmed: "
               + ", ".join(f"{r['id']} [{r['variant']}]" for r in flagged), ""]
    md += ["## All verdicts", ""] + _md_table(HEADER, rows) + [""]
    if calibration is not None and len(calibration):
        from .calibration import calibration_table
        md += ["## Calibration of the fitting pipeline", "",
               "Synthetic problems of known slope shaped like the claims' data "
               "(`infdepth calibrate`, docs/theory.md s9): coverage of the 95% interval, "
               "false refutation of a true claim, false confirmation of a claim off by 0.4. "
               + CALIBRATION_MISSES, "", calibration_table(calibration), ""]
    for cid in dict.fromkeys(r["id"] for r in verdicts):
        claim = get_claim(cid) if cid in CLAIM_IDS else None
        md += [f"## {cid}", ""]
        if claim:
            md += [f"[{claim.source}] {claim.statement} (claimed: {claim.claimed_text}). "
                   f"Measured: {claim.quantity}. Page: docs/claims/{cid}.md.", ""]
        for r in (r for r in verdicts if r["id"] == cid):
            md.append(f"**{r['variant']}** ({r.get('role', 'exploratory')}) — {r['status']}; "
                      f"vs derived: {r.get('status_derived', 'n/a')}")
            md += [f"- {line}" for line in _details(r)]
            md.append("")
        for p in figures.get(cid, []):
            if p.suffix == ".png":
                md += [f"![{cid}]({p.relative_to(out_dir) if p.is_relative_to(out_dir) else p})",
                       ""]
    md += ["## Provenance", ""] + [f"- {k}: {v}" for k, v in prov]
    md_path = out_dir / "report.md"
    atomic_write_text(md_path, "\n".join(md) + "\n")

    def esc(s: str) -> str:
        return html.escape(str(s))

    def md_inline(s: str) -> str:
        return esc(s).replace("**", "")

    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>infdepth report</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;"
             "padding:3px 6px}.ok{background:#d9f2d9}.bad{background:#f8d7d7}"
             ".noise{background:#fff3cd}.unsettled{background:#dbe8f8}"
             "img{max-width:100%;height:auto}</style></head><body>",
             "<h1>infdepth validation report</h1>", "<h2>Verdict rule</h2>",
             f"<p>{md_inline(RULE)}</p>", "<h2>Claims at a glance</h2>",
             _html_table(GLANCE, glance, (3, 4, 7))]
    if flagged:
        parts.append(f"<p class='bad'><b>Flagged:</b> {len(flagged)} negative control(s) came "
                     "out confirmed: " + esc(", ".join(f"{r['id']} [{r['variant']}]"
                                                       for r in flagged)) + "</p>")
    parts += ["<h2>All verdicts</h2>", _html_table(HEADER, rows, (6, 7))]
    if calibration is not None and len(calibration):
        cal_rows = [[r.problem, str(r.seeds), r.method, f"{r.coverage:.3f} ± {r.coverage_se:.3f}",
                     f"{r.false_refutation:.3f}", f"{r.false_confirmation:.3f}",
                     ("confirmed" if (r.coverage_ok and r.refutation_ok) else "refuted")
                     if getattr(r, "target", True) else "n/a (no suite uses it)"]
                    for r in calibration.itertuples()]
        parts += ["<h2>Calibration of the fitting pipeline</h2>",
                  "<p>Synthetic problems of known slope shaped like the claims' data "
                  "(<code>infdepth calibrate</code>): coverage of the 95% interval, false "
                  "refutation of a true claim, false confirmation of a claim off by 0.4; the "
                  "last column is green where the targets (coverage 0.93-0.97, false "
                  "refutation at most 0.05) are met. " + esc(CALIBRATION_MISSES) + "</p>",
                  _html_table(["problem", "seeds", "method", "coverage", "false refutation",
                               "false confirmation", "targets"], cal_rows, (6,))]
    for cid in dict.fromkeys(r["id"] for r in verdicts):
        claim = get_claim(cid) if cid in CLAIM_IDS else None
        parts.append(f"<h2>{esc(cid)}</h2>")
        if claim:
            parts.append(f"<p>[{esc(claim.source)}] {esc(claim.statement)} (claimed: "
                         f"{esc(claim.claimed_text)}). Measured: {esc(claim.quantity)}.</p>")
        for r in (r for r in verdicts if r["id"] == cid):
            cls = STATUS_CLASS.get(r["status"], "")
            parts.append(f"<p><b>{esc(r['variant'])}</b> ({esc(r.get('role', 'exploratory'))})"
                         f" — <span class='{cls}'>{esc(r['status'])}</span>; vs derived: "
                         f"{esc(r.get('status_derived', 'n/a'))}</p><ul>"
                         + "".join(f"<li>{esc(x)}</li>" for x in _details(r)) + "</ul>")
        for p in figures.get(cid, []):
            if p.suffix == ".png" and p.exists():
                data = base64.b64encode(p.read_bytes()).decode()
                parts.append(f"<img alt='{esc(cid)}' src='data:image/png;base64,{data}'>")
    parts.append("<h2>Provenance</h2><ul>" + "".join(f"<li>{esc(k)}: {esc(v)}</li>"
                                                       for k, v in prov) + "</ul>")
    parts.append("</body></html>")
    html_path = out_dir / "report.html"
    atomic_write_text(html_path, "\n".join(parts))
    return md_path, html_path
