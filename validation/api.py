"""Running claims and reading their results from Python (docs/api.md): thin entry points over
the runner and the results store, for notebooks and scripts."""

from __future__ import annotations

import os
from typing import Iterable

import pandas as pd

from infdepth.run_fields import RunFields

from .claims import Overrides, check_overrides
from .results_store import ResultsStore
from .scheduler import SchedulerSpec
from .runner import VerdictRecord, run
from .tables import table_path


def validate(claims: Iterable[str] | None = None, suite: str = "standard",
             out: str | os.PathLike[str] = "results", *, device: str = "cpu",
             dtype: str = "float64", activations: Iterable[str] | None = None,
             depths: Iterable[int] | None = None, widths: Iterable[int] | None = None,
             figures: bool = True, workers: int = 1, scheduler: str | None = None,
             conventions: Iterable[str] | None = None) -> list[VerdictRecord]:
    """Run ``claims`` (default: all) on ``suite`` into the results folder ``out`` (finished points
    are reused), draw their figures, and return the verdict records (``infdepth validate``).
    ``workers`` > 1 computes the points on a local Dask cluster of that many processes;
    ``scheduler`` (``"tcp://host:port"``) on an existing one. ``conventions``: the named
    conventions the [HW] claims run under (``"default"``, ``"authors"``; docs/theory.md s6;
    other claims run under the default)."""
    overrides = check_overrides(Overrides(
        activations=tuple(activations) if activations else None,
        depths=tuple(depths) if depths else None, widths=tuple(widths) if widths else None,
        conventions=tuple(conventions) if conventions else None))
    store = ResultsStore(out)
    records = run(claims, suite, store, run=RunFields(device=device, dtype=dtype),
                  overrides=overrides,
                  scheduler=SchedulerSpec.from_options(workers, scheduler))
    if figures:
        from infdepth.paper_figs import make_figures
        make_figures(store, [r.to_dict() for r in records])
    return records


def load_verdicts(out: str | os.PathLike[str] = "results") -> pd.DataFrame:
    """The stored verdict table of a results folder, one row per claim and variant."""
    from .runner import VERDICTS_FILE
    rows = ResultsStore(out).get_json(VERDICTS_FILE) or []
    cols = ["id", "variant", "role", "claimed", "derived", "measured", "ci_low", "ci_high",
            "status", "suite", "convention"]
    return pd.DataFrame([{c: r.get(c, "default" if c == "convention" else None) for c in cols}
                         for r in rows], columns=cols)


def read_table(claim: str, variant: str, out: str | os.PathLike[str] = "results", *,
               summary: bool = False) -> pd.DataFrame:
    """A variant's tidy table (raw: per point and seed with the config as columns; ``summary``:
    per size, or per cell of a map); ``FileNotFoundError`` if the folder does not hold it."""
    df = ResultsStore(out).get_table(table_path(claim, variant, summary))
    if df is None:
        raise FileNotFoundError(f"no table for claim {claim!r} variant {variant!r} in '{out}'; "
                                f"run 'infdepth validate --claims {claim} --out {out}' first")
    return df
