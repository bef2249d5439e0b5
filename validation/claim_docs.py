"""Keep the claim pages in sync with a results folder: the block between
``<!-- results:begin -->`` and ``<!-- results:end -->`` of ``docs/claims/<id>.md`` is rewritten
from the verdict rows (``infdepth report --docs docs/claims``). Nothing else of a page changes.
"""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from infdepth.atomic_io import atomic_write_text

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
_BLOCK = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)


def _slope(x: float | None) -> str:
    return "—" if x is None else f"{x:+.3f}"


def _ci(r: dict[str, Any]) -> str:
    if r.get("ci_low") is None or r.get("ci_high") is None:
        return "—"
    return f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"


def git_commit(path: Path) -> str:
    """The short commit of the checkout holding ``path`` (``unknown`` outside git)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=path,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def results_block(rows: list[dict[str, Any]], *, commit: str, date: str) -> str:
    """The Markdown of one claim's latest results (its verdict rows)."""
    suites = sorted({r.get("suite", "?") for r in rows})
    lines = [BEGIN, f"Suite `{', '.join(suites)}`, commit `{commit}`, {date} "
             f"(`infdepth validate --claims {rows[0]['id']} --suite {suites[0]}`).", "",
             "| variant | role | claimed | derived | measured | 95% CI | status | vs derived |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        claimed = r.get("claimed_text") or _slope(r.get("claimed"))
        lines.append(f"| `{r['variant']}` | {r.get('role', 'exploratory')} | {claimed} | "
                     f"{_slope(r.get('derived'))} | {_slope(r.get('measured'))} | {_ci(r)} | "
                     f"{r['status']} | {r.get('status_derived', 'n/a')} |")
    lines.append(END)
    return "\n".join(lines)


def update_claim_pages(verdicts: list[dict[str, Any]], docs_dir: Path, *,
                       commit: str | None = None) -> list[Path]:
    """Rewrite the results block of every claim page in ``docs_dir`` that has verdict rows;
    returns the pages written. A page without the markers raises ``ValueError``."""
    docs_dir = Path(docs_dir)
    commit = commit or git_commit(docs_dir)
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    written = []
    for cid in dict.fromkeys(r["id"] for r in verdicts):
        page = docs_dir / f"{cid}.md"
        if not page.exists():
            continue
        text = page.read_text()
        if not _BLOCK.search(text):
            raise ValueError(f"'{page}' has no {BEGIN} ... {END} block to fill")
        block = results_block([r for r in verdicts if r["id"] == cid], commit=commit, date=date)
        atomic_write_text(page, _BLOCK.sub(lambda _: block, text))
        written.append(page)
    return written
