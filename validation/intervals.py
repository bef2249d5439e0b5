"""Confidence intervals of a log-log slope over seeds (docs/theory.md s9, "Intervals hold their
level"). Which method a fit uses is chosen by the calibration suite
(:mod:`infdepth.validation.calibration`), never by the data being judged.

The slope is the least-squares slope of ``log e_i`` on ``log s_i`` over the used sizes, ``e_i`` a
statistic of the seed rows at size ``s_i``. Methods:

* ``log_t`` -- for one positive value per seed and size, the statistic being the **geometric
  mean** over seeds (:func:`geometric_mean`). The slope is then linear in the per-seed logs, so
  its variance is exact: seeds paired across sizes give one slope per seed and the interval is
  ``mean +- t_{S-1} sd/sqrt(S)`` (the slope of the geometric means *is* the mean of the per-seed
  slopes); independent seeds give ``sum_i w_i^2 var_i / S_i`` (``w`` the least-squares weights)
  with Welch-Satterthwaite degrees of freedom. Exact when the log errors are Gaussian (log-normal
  seed scatter), robust to heavy tails of the errors themselves.
* ``studentized`` -- bootstrap-t: seeds are resampled (jointly across sizes when paired), each
  replicate's slope is studentized by its jackknife standard error, and the interval is
  ``slope - q_{1-a/2} se, slope - q_{a/2} se`` with the jackknife ``se`` of the data.
* ``bca`` -- bias-corrected and accelerated bootstrap (``scipy.stats.bootstrap``).
* ``percentile`` -- the percentile bootstrap (too narrow with few seeds: 86% coverage at 4).
* ``ols_t`` -- deterministic data (one row per size): the OLS t-interval from the residuals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from infdepth.lazy import lazy

stats = lazy("scipy.stats")  # imported on first use (infdepth.lazy)

__all__ = ["METHODS", "Interval", "BatchStatistic", "geometric_mean", "ols_slope",
           "resample_statistic", "draw_resample_statistic", "slope_interval", "resample_rows",
           "resample_row_blocks", "skip_resample_rows"]

METHODS: tuple[str, ...] = ("log_t", "studentized", "boot_t", "bca", "percentile", "ols_t")
Statistic = Callable[[np.ndarray], float]


def geometric_mean(a: np.ndarray) -> float:
    """``exp(mean(log a))`` over seeds (and any trailing axes); 0 if any value is 0, NaN if any
    is negative or non-finite (a divergent seed makes the point divergent)."""
    a = np.asarray(a, dtype=float)
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        return math.nan
    if np.any(a == 0):
        return 0.0
    return float(np.exp(np.mean(np.log(a))))


@dataclass(frozen=True)
class Interval:
    """A slope interval: ``low``, ``high``, the method, the standard error behind it (NaN for
    pure percentile intervals) and the degrees of freedom where a t quantile was used."""

    low: float
    high: float
    method: str
    se: float = math.nan
    dof: float = math.nan


def ols_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``y`` on ``x`` (last axis), vectorized over leading axes (a row
    with a non-finite value gives NaN)."""
    dx = x - x.mean()
    with np.errstate(all="ignore"):
        return (y - y.mean(axis=-1, keepdims=True)) @ dx / float(dx @ dx)


def _log_t(x: np.ndarray, samples: Sequence[np.ndarray], paired: bool, level: float) -> Interval:
    logs = [np.log(np.asarray(a, dtype=float).reshape(len(a))) for a in samples]
    q = 0.5 + level / 2
    if paired:
        slopes = ols_slope(x, np.stack(logs, axis=1))          # one slope per seed
        S = slopes.size
        mean, se = float(slopes.mean()), float(slopes.std(ddof=1) / math.sqrt(S))
        t = float(stats.t.ppf(q, S - 1))
        return Interval(mean - t * se, mean + t * se, "log_t", se, S - 1)
    dx = x - x.mean()
    w = dx / float(dx @ dx)
    v = np.array([lg.var(ddof=1) / lg.size for lg in logs])
    slope = float(w @ np.array([lg.mean() for lg in logs]))
    var = float(w ** 2 @ v)
    if var == 0:                     # no scatter at any size: the slope is exact
        return Interval(slope, slope, "log_t", 0.0, math.inf)
    dof = var ** 2 / float(np.sum((w ** 2 * v) ** 2 / np.array([lg.size - 1 for lg in logs])))
    se = math.sqrt(var)
    t = float(stats.t.ppf(q, dof))
    return Interval(slope - t * se, slope + t * se, "log_t", se, dof)


class BatchStatistic:
    """A statistic that evaluates itself on a batch of resamples ``(B, S, ...) -> (B,)`` and on
    all leave-one-seed-out subsets ``(B, S, ...) -> (B, S)`` at once (the studentized bootstrap
    then needs no Python loop). :class:`~infdepth.validation.noise_budget.NormOfMean` is one;
    any other callable works through the generic loop."""

    def __call__(self, a: np.ndarray) -> float:  # pragma: no cover - subclasses define
        raise NotImplementedError

    def batch(self, a: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def leave_one_out(self, a: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def counts_form(self, a: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
        """The statistic of resamples of the seed rows of ``a`` (S, ...) as a function of how
        often each row is drawn, ``counts`` (b, S) -> (b,), without gathering the rows (a matrix
        product), the work that depends on ``a`` alone done once; ``None`` when a subclass has
        no such form (the rows are then gathered)."""
        return None


#: a resample block gathers at most this many values (a claim with 64000 seeds of 6 columns
#: would otherwise gather 2000 x 64000 x 6 values at once)
_BLOCK_VALUES = 1 << 22

#: ``evaluate(idx)``: the statistic of the resamples of one block of row indices (b, S) -> (b,)
Evaluate = Callable[[np.ndarray], np.ndarray]


def _block_rows(values_per_resample: int) -> int:
    """Resamples per block: as many as gather at most ``_BLOCK_VALUES`` values (at least 1)."""
    return max(1, _BLOCK_VALUES // max(1, values_per_resample))


def resample_statistic(stat: Statistic | None, a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``stat`` of every resample ``a[idx[b]]`` (``idx``: (B, S) seed-row indices) -> (B,).
    ``None`` is the mean over seeds and trailing axes (rows of equal length: the mean of the
    per-seed means, gathered in blocks of ~4M values); the geometric mean of positive 1-D values
    and a :class:`BatchStatistic` run vectorized; any other callable row by row."""
    evaluate, step, finish = _resampled(stat, a)
    return finish(_in_blocks(evaluate, _slices(idx, step), idx.shape[0]))


def draw_resample_statistic(stat: Statistic | None, a: np.ndarray, rng: np.random.Generator,
                            n_boot: int) -> np.ndarray:
    """``resample_statistic(stat, a, resample_rows(rng, len(a), n_boot))``, the indices drawn
    block by block as the statistic reads them (:func:`resample_row_blocks`, the same numbers
    from the same generator; no (n_boot, S) index array is held)."""
    evaluate, step, finish = _resampled(stat, a)
    return finish(_in_blocks(evaluate, resample_row_blocks(rng, a.shape[0], n_boot, step),
                             n_boot))


def _resampled(stat: Statistic | None, a: np.ndarray
               ) -> tuple[Evaluate, int, Callable[[np.ndarray], np.ndarray]]:
    """How :func:`resample_statistic` evaluates ``stat`` on resamples of the rows of ``a``:
    ``(evaluate, rows per block, finish)``, ``finish`` applied once to the joined blocks."""
    S = a.shape[0]
    step = _block_rows(S)
    if stat is None:
        per_seed = a.reshape(S, -1).mean(axis=1) if a.ndim > 1 else a
        per_seed = per_seed.astype(float, copy=False)
        return (lambda idx: per_seed[idx].mean(axis=1)), step, _same
    if stat is geometric_mean and a.ndim == 1 and np.all(a > 0):
        logs = np.log(a)
        return (lambda idx: logs[idx].mean(axis=1)), step, np.exp
    evaluate, step = _evaluator(stat, a)
    return evaluate, step, _same


def _same(x: np.ndarray) -> np.ndarray:
    return x


def _evaluator(stat: Statistic, a: np.ndarray) -> tuple[Evaluate, int]:
    """``(evaluate, rows per block)`` of ``stat`` on resamples of the rows of ``a``, in blocks of
    at most ``_BLOCK_VALUES`` values (each resample is evaluated on its own: the blocks change
    the memory, not the numbers): from the row counts where the statistic has that form
    (:meth:`BatchStatistic.counts_form`; one count buffer for every block), else by gathering
    the rows."""
    S = a.shape[0]
    if isinstance(stat, BatchStatistic):                # a matrix product of row counts
        form = stat.counts_form(a)
        if form is not None:
            step = _block_rows(S)
            buf = np.empty((0, S))

            def evaluate(idx: np.ndarray) -> np.ndarray:
                nonlocal buf
                if buf.shape[0] < idx.shape[0]:
                    buf = np.empty((idx.shape[0], S))
                return form(_counts(idx, S, buf))

            return evaluate, step
    width = int(np.prod(a.shape[1:], dtype=np.int64)) if a.ndim > 1 else 1
    step = _block_rows(S * width)
    return (lambda idx: _batch(stat, a[idx])), step


def _slices(idx: np.ndarray, step: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, idx[start:start + step])`` over the rows of ``idx``."""
    for start in range(0, idx.shape[0], step):
        yield start, idx[start:start + step]


def _in_blocks(evaluate: Evaluate, blocks: Iterable[tuple[int, np.ndarray]], B: int
               ) -> np.ndarray:
    """``evaluate`` of each block ``(start, idx)`` of resamples, joined into (B,)."""
    out = np.empty(B, dtype=float)
    for start, idx in blocks:
        out[start:start + idx.shape[0]] = evaluate(idx)
    return out


def _batch_at(stat: Statistic, a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``stat`` of every resample ``a[idx[b]]`` (:func:`_evaluator`'s blocks)."""
    evaluate, step = _evaluator(stat, a)
    return _in_blocks(evaluate, _slices(idx, step), idx.shape[0])


def _counts(idx: np.ndarray, S: int, out: np.ndarray | None = None) -> np.ndarray:
    """How often each of the ``S`` rows is drawn in each resample of ``idx`` (b, S) -> (b, S),
    float64, written into the first ``b`` rows of ``out`` when given. One exact
    ``np.bincount`` per resample (2.5x faster than one count over the flattened block:
    2000 resamples of 128000 rows, 0.59 s against 1.47 s on one core)."""
    b = idx.shape[0]
    counts = np.empty((b, S)) if out is None else out[:b]
    for r in range(b):
        counts[r] = np.bincount(idx[r], minlength=S)
    return counts


def _batch(stat: Statistic, a: np.ndarray) -> np.ndarray:
    if isinstance(stat, BatchStatistic):
        return stat.batch(a.reshape(a.shape[0], a.shape[1], -1))
    with np.errstate(all="ignore"):
        return np.array([stat(r) for r in a], dtype=float)


def _leave_one_out(stat: Statistic, a: np.ndarray) -> np.ndarray:
    if isinstance(stat, BatchStatistic):
        return stat.leave_one_out(a.reshape(a.shape[0], a.shape[1], -1))
    S = a.shape[1]
    keep = ~np.eye(S, dtype=bool)
    with np.errstate(all="ignore"):
        return np.array([[stat(r[k]) for k in keep] for r in a], dtype=float)


def _slope_of(x: np.ndarray, samples: Sequence[np.ndarray], stat: Statistic) -> float:
    with np.errstate(all="ignore"):
        y = np.log([stat(a) for a in samples])
    return float(ols_slope(x, y)) if np.all(np.isfinite(y)) else math.nan


def _studentized_parts(x: np.ndarray, batches: Sequence[np.ndarray], stat: Statistic,
                       paired: bool) -> tuple[np.ndarray, np.ndarray]:
    """Slopes (B,) and their jackknife standard errors (B,) of ``B`` resamples, ``batches[i]``
    (B, S_i, ...) holding the resampled rows at size ``i`` (the same seed indices at every size
    when ``paired``: seed ``j`` is left out of every size at once)."""
    dx = x - x.mean()
    w = dx / float(dx @ dx)
    with np.errstate(all="ignore"):
        logs = np.stack([np.log(_batch(stat, b)) for b in batches], axis=1)       # (B, P)
        loo = [np.log(_leave_one_out(stat, b)) for b in batches]                 # (B, S_i)
        slope = logs @ w
        if paired:
            th = np.stack(loo, axis=2) @ w                                       # (B, S)
            n = th.shape[1]
            var = (n - 1) / n * np.sum((th - th.mean(axis=1, keepdims=True)) ** 2, axis=1)
        else:
            var = sum(wi ** 2 * (li.shape[1] - 1) / li.shape[1]
                      * np.sum((li - li.mean(axis=1, keepdims=True)) ** 2, axis=1)
                      for wi, li in zip(w, loo))
        return slope, np.sqrt(var)


def resample_rows(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    """Row indices of ``n_boot`` bootstrap resamples of ``n`` seed rows, (n_boot, n): the draws
    of ``rng.integers(0, n, size=(n_boot, n))``, held as int32 below 2^31 rows (NumPy draws a
    range below 2^32 from the same 32-bit stream for either integer type, so these are the same
    numbers; half the memory and a third less time on 80000-row samples)."""
    dtype = np.int32 if n < 2 ** 31 else np.int64
    return rng.integers(0, n, size=(n_boot, n), dtype=dtype)


def resample_row_blocks(rng: np.random.Generator, n: int, n_boot: int, step: int
                        ) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, rows start..start + b of resample_rows(rng, n, n_boot))`` in blocks of at most
    ``step`` resamples, each block drawn when it is asked for. The same numbers as one call:
    NumPy's bounded integers below 2^32 take one 32-bit value per draw (and more only to reject
    one) from the generator's stream, whose unused half of a 64-bit output stays in the
    generator's state, so consecutive calls continue one call's sequence."""
    for start in range(0, n_boot, step):
        yield start, resample_rows(rng, n, min(step, n_boot - start))


def skip_resample_rows(rng: np.random.Generator, n: int, n_boot: int) -> None:
    """Advance ``rng`` past the draws of ``resample_rows(rng, n, n_boot)``, drawn in blocks and
    not kept."""
    for _ in resample_row_blocks(rng, n, n_boot, _block_rows(n)):
        pass


def _resample_index(n_rows: Sequence[int], paired: bool, n_boot: int,
                    rng: np.random.Generator) -> list[np.ndarray]:
    if paired:
        idx = resample_rows(rng, n_rows[0], n_boot)
        return [idx] * len(n_rows)
    return [resample_rows(rng, n, n_boot) for n in n_rows]


def _studentized(x, samples, stat, paired, level, n_boot, rng) -> Interval:
    slope, se = (float(v[0]) for v in _studentized_parts(x, [a[None] for a in samples], stat,
                                                          paired))
    idx = _resample_index([len(a) for a in samples], paired, n_boot, rng)
    sb, seb = _studentized_parts(x, [a[i] for a, i in zip(samples, idx)], stat, paired)
    ok = np.isfinite(sb) & np.isfinite(seb) & (seb > 0)
    if ok.sum() < 10 or not (math.isfinite(se) and math.isfinite(slope)):
        return Interval(math.nan, math.nan, "studentized", se)
    t = (sb[ok] - slope) / seb[ok]
    lo_q, hi_q = np.quantile(t, [0.5 - level / 2, 0.5 + level / 2])
    return Interval(float(slope - hi_q * se), float(slope - lo_q * se), "studentized", se)


def _bca(x, samples, stat, paired, level, n_boot, rng) -> Interval:
    def slope_stat(*arrs, axis=-1):
        return _slope_of(x, arrs, stat)

    with np.errstate(all="ignore"):
        res = stats.bootstrap(tuple(np.asarray(a) for a in samples), slope_stat, paired=paired,
                              vectorized=False, confidence_level=level, n_resamples=n_boot,
                              method="BCa", random_state=rng)
    ci = res.confidence_interval
    lo, hi = (float(np.ravel(v)[0]) for v in (ci.low, ci.high))
    return Interval(lo, hi, "bca", float(np.ravel(res.standard_error)[0]))


def _percentile(x, samples, stat, paired, level, n_boot, rng) -> Interval:
    idx = _resample_index([len(a) for a in samples], paired, n_boot, rng)
    with np.errstate(all="ignore"):
        logs = np.stack([np.log(_batch_at(stat, a, i)) for a, i in zip(samples, idx)], axis=1)
    sl = ols_slope(x, logs)
    sl = sl[np.isfinite(sl)]
    if sl.size < 10:
        return Interval(math.nan, math.nan, "percentile")
    lo, hi = np.quantile(sl, [0.5 - level / 2, 0.5 + level / 2])
    return Interval(float(lo), float(hi), "percentile", float(sl.std(ddof=1)))


def _boot_t(x, samples, stat, paired, level, n_boot, rng) -> Interval:
    """``slope +- t_{S-1} sqrt(S/(S-1)) se_boot``: the bootstrap standard error of the slope with
    the small-sample corrections the percentile interval lacks (the plug-in variance's factor
    ``(S-1)/S`` and a t quantile with the seeds' degrees of freedom)."""
    slope = _slope_of(x, samples, stat)
    idx = _resample_index([len(a) for a in samples], paired, n_boot, rng)
    with np.errstate(all="ignore"):
        logs = np.stack([np.log(_batch_at(stat, a, i)) for a, i in zip(samples, idx)], axis=1)
    sl = ols_slope(x, logs)
    sl = sl[np.isfinite(sl)]
    S = min(len(a) for a in samples)
    if sl.size < 10 or not math.isfinite(slope) or S < 2:
        return Interval(math.nan, math.nan, "boot_t")
    se = float(sl.std(ddof=1)) * math.sqrt(S / (S - 1))
    t = float(stats.t.ppf(0.5 + level / 2, S - 1))
    return Interval(slope - t * se, slope + t * se, "boot_t", se, S - 1)


def slope_interval(method: str, sizes: Sequence[float], samples: Sequence[np.ndarray],
                   statistic: Statistic, *, paired: bool, level: float = 0.95,
                   n_boot: int = 2000, rng_seed: int = 0) -> Interval:
    """The ``level`` interval of the log-log slope of ``statistic(samples[i])`` on ``sizes``
    (the used points only) by ``method`` (module docstring). ``log_t`` needs 1-D positive
    samples and uses the geometric mean whatever ``statistic`` is."""
    if method not in METHODS or method == "ols_t":
        raise ValueError(f"unknown interval method {method!r}; allowed: "
                         f"{', '.join(m for m in METHODS if m != 'ols_t')}")
    x = np.log(np.asarray(sizes, dtype=float))
    samples = [np.asarray(a) for a in samples]
    if method == "log_t":
        return _log_t(x, samples, paired, level)
    rng = np.random.default_rng(rng_seed)
    fn = {"studentized": _studentized, "boot_t": _boot_t, "bca": _bca,
          "percentile": _percentile}[method]
    return fn(x, samples, statistic, paired, level, n_boot, rng)
