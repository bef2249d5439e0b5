"""Figure kinds by name, and the entry point that draws every claim's figures from a results
folder: each claim's figure specs (``Claim.figures``) name a kind and the variants it draws; the
kind reads those variants' tables (:mod:`infdepth.validation.tables`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from . import depth_as_width, phase_map, rate, regime_map, transfer
from .common import VariantView

#: figure kind -> make(spec, views, out_dir) -> paths
KINDS: dict[str, Callable] = {"rate": rate.make, "phase_map": phase_map.make,
                              "regime_map": regime_map.make, "transfer": transfer.make,
                              "depth_as_width": depth_as_width.make}


def views_of(store, records: list[dict[str, Any]]) -> list[VariantView]:
    """The tables of the verdict rows ``records`` in ``store`` (``None`` where missing)."""
    from infdepth.validation.tables import table_path
    return [VariantView(r, store.get_table(table_path(r["id"], r["variant"], summary=True)),
                        store.get_table(table_path(r["id"], r["variant"])))
            for r in records]


def convention_spec(spec, convention: str):
    """The figure spec of the rows of one named convention (docs/theory.md s6): the spec itself
    for ``"default"``; else its file stem suffixed ``-<convention>`` and its title marked, so
    the conventions' figures never overwrite or mix with each other."""
    if convention == "default":
        return spec
    return replace(spec, stem=f"{spec.stem}-{convention}",
                   title=f"{spec.title} (convention: {convention})")


def make_figures(store, verdicts: list[dict[str, Any]], out_dir: Path | None = None
                 ) -> dict[str, list[Path]]:
    """Draw the figures of every claim present in ``verdicts``, one set per named convention
    of its rows (:func:`convention_spec`); returns claim -> paths."""
    from infdepth.validation.claims import get_claim
    out_dir = Path(out_dir) if out_dir is not None else store.root / "figures"
    out: dict[str, list[Path]] = {}
    for cid in dict.fromkeys(r["id"] for r in verdicts):
        claim = get_claim(cid)
        mine = [r for r in verdicts if r["id"] == cid]
        for conv in dict.fromkeys(r.get("convention", "default") for r in mine):
            rows = [r for r in mine if r.get("convention", "default") == conv]
            for spec in claim.figures:
                chosen = [r for r in rows if spec.wants(r["variant"])]
                if chosen or (spec.kind == "regime_map" and conv == "default"):
                    out.setdefault(cid, []).extend(KINDS[spec.kind](
                        convention_spec(spec, conv), views_of(store, chosen), out_dir))
    return out
