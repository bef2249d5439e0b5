"""What every [HW] point config shares (THEORY.md s6): the typical data set, where/how the run
is done, and how the point becomes a :class:`~infdepth.numerics.hidden_width.HWConfig`. The base of the point dataclasses of ``hw_rate_lm``, ``hw_sqrt_d``, ``hw_lazy`` and
``hw_phase``; its fields are keyword-only, so the subclasses keep their own positional fields
(and their config hashes: the results store hashes field names, not their order)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class HWRunFields:
    """Data (``N`` Gaussian inputs in ``d_in`` dims, targets in ``d_out``, fixed by ``data_seed``),
    the weights' ``base_seed``, and the run's ``device`` and ``dtype``."""

    N: int = 10
    d_in: int = 5
    d_out: int = 5
    data_seed: int = 0
    base_seed: int = 0
    device: str = "cpu"
    dtype: str = "float64"

    def data(self):
        """``(X, Y)`` of :func:`~infdepth.numerics.hidden_width.hw_data` in this run's dtype
        and device."""
        import torch

        from infdepth.numerics.hidden_width import hw_data
        return hw_data(self.N, self.d_in, self.d_out, self.data_seed,
                       dtype=getattr(torch, self.dtype), device=self.device)

    def config(self, **overrides):
        """The :class:`~infdepth.numerics.hidden_width.HWConfig` of this point's networks: its
        fields of the same names (:func:`~infdepth.numerics.hidden_width.config_from`; a
        subclass's ``alpha`` / ``eta`` may be properties), ``overrides`` replacing any."""
        from infdepth.numerics.hidden_width import config_from
        return config_from(self, **overrides)
