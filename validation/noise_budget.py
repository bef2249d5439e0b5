"""The noise budget of a statistic (docs/theory.md s9, "Noise budget").

A norm of a noisy mean is biased upward by the noise: for seed rows ``X_j = mu + xi_j``
(``j = 1..S``, centred ``xi`` of covariance ``Sigma``),

    E |mean_j X_j|^2 = |mu|^2 + tr(Sigma) / S,

so ``|mean|`` overstates ``|mu|`` wherever the signal is not far above ``sqrt(tr Sigma / S)`` --
at the largest sizes of a convergence study, which flattens the fitted slope. The corrected
estimate subtracts the unbiased ``tr(Sigma_hat)/S`` (sample variances, ddof 1) from the squared
norm before the square root (:class:`NormOfMean`; a corrected square below zero -- signal under
the noise -- gives 0). :func:`signal_to_noise` is an estimate over its standard error; a point
is resolved when it is at least the fitter's noise floor (2).

:class:`NormOfMean` also evaluates itself on a batch of resamples and on all leave-one-out
subsets at once (closed forms of the sums), which the studentized bootstrap needs, and on
resamples given by their row counts (:meth:`NormOfMean.counts_form`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .intervals import BatchStatistic

__all__ = ["NormOfMean", "noise_of_mean", "signal_to_noise"]


def _rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a.reshape(a.shape[0], -1)


def noise_of_mean(a: np.ndarray, weight: np.ndarray | float = 1.0) -> float:
    """``sqrt(tr(W Sigma_hat W) / S)``: the rms size the noise adds to the norm of the seed mean
    of the rows of ``a`` (S, ...), each column weighted by ``weight``."""
    a = _rows(a)
    if a.shape[0] < 2:
        return math.nan
    w = np.broadcast_to(np.asarray(weight, dtype=float).ravel(), (a.shape[1],))
    return float(math.sqrt(np.sum(w ** 2 * a.var(axis=0, ddof=1)) / a.shape[0]))


@dataclass(frozen=True)
class NormOfMean(BatchStatistic):
    """``scale * |W (mean_j a_j - ref)|`` over the columns of the seed rows of ``a`` (S, ...),
    noise-bias corrected when ``corrected`` (module docstring); ``rms=True`` averages the squares
    over the columns (the rms over columns instead of the Euclidean norm). ``ref``, ``weight``:
    per column (or scalars)."""

    ref: tuple[float, ...] | float = 0.0
    weight: tuple[float, ...] | float = 1.0
    scale: float = 1.0
    corrected: bool = True
    rms: bool = False

    def _cols(self, C: int):
        ref = np.broadcast_to(np.asarray(self.ref, dtype=float).ravel(), (C,))
        w = np.broadcast_to(np.asarray(self.weight, dtype=float).ravel(), (C,))
        return ref, w

    def _finish(self, sq: np.ndarray, C: int) -> np.ndarray:
        sq = np.maximum(sq, 0.0)
        return self.scale * np.sqrt(sq / C if self.rms else sq)

    def __call__(self, a: np.ndarray) -> float:
        return float(self.batch(_rows(a)[None])[0])

    def batch(self, a: np.ndarray) -> np.ndarray:
        """The statistic of each of ``B`` resamples ``a`` (B, S, C): (B,)."""
        B, S, C = a.shape
        ref, w = self._cols(C)
        m = a.mean(axis=1)
        sq = np.sum((w * (m - ref)) ** 2, axis=-1)
        if self.corrected and S > 1:
            sq = sq - np.sum(w ** 2 * a.var(axis=1, ddof=1), axis=-1) / S
        return self._finish(sq, C)

    def counts_form(self, a: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """The statistic of each resample given by its row counts ``counts`` (B, S): the
        resample means and variances are products ``counts @ rows`` (rows centred on their mean
        first, so the variance does not lose digits; the centred rows and their squares are
        formed once for every block of counts)."""
        a = _rows(a)
        S, C = a.shape
        ref, w = self._cols(C)
        shift = a.mean(axis=0)
        d = a - shift
        dd = d * d if self.corrected and S > 1 else None

        def form(counts: np.ndarray) -> np.ndarray:
            md = counts @ d / S                              # (B, C) resample mean - shift
            sq = np.sum((w * (md + shift - ref)) ** 2, axis=-1)
            if dd is not None:
                var = (counts @ dd / S - md ** 2) * (S / (S - 1))
                sq = sq - np.sum(w ** 2 * var, axis=-1) / S
            return self._finish(sq, C)

        return form

    def leave_one_out(self, a: np.ndarray) -> np.ndarray:
        """The statistic of every leave-one-seed-out subset of each resample ``a`` (B, S, C):
        (B, S), from the running sums (no loop over seeds)."""
        B, S, C = a.shape
        ref, w = self._cols(C)
        n = S - 1
        s1 = a.sum(axis=1, keepdims=True)
        s2 = (a ** 2).sum(axis=1, keepdims=True)
        m = (s1 - a) / n                                     # (B, S, C) means without seed j
        sq = np.sum((w * (m - ref)) ** 2, axis=-1)
        if self.corrected and n > 1:
            var = ((s2 - a ** 2) - n * m ** 2) / (n - 1)
            sq = sq - np.sum(w ** 2 * var, axis=-1) / n
        return self._finish(sq, C)


def signal_to_noise(estimate: float, stderr: float) -> float:
    """Estimate over its standard error (``inf`` for a noiseless point, NaN if undefined)."""
    if not (math.isfinite(estimate) and math.isfinite(stderr)):
        return math.nan
    return math.inf if stderr == 0 else estimate / stderr
