"""What every [HW] point shares (docs/theory.md s6): the typical data set on top of the run fields.
Not a claim module: the base of the point dataclasses of ``hw_rate_lm``, ``hw_sqrt_d``,
``hw_lazy`` and ``hw_phase``."""

from __future__ import annotations

from dataclasses import dataclass

from infdepth.run_fields import RunFields


@dataclass(frozen=True, kw_only=True)
class HWRunFields(RunFields):
    """The data (``N`` Gaussian inputs in ``d_in`` dims, targets in ``d_out``, fixed by
    ``data_seed``) besides the run fields."""

    N: int = 10
    d_in: int = 5
    d_out: int = 5
    data_seed: int = 0

    def data(self):
        """``(X, Y)`` of :func:`~infdepth.numerics.hidden_width.hw_data` in this run's dtype
        and device."""
        from infdepth.numerics.hidden_width import hw_data
        return hw_data(self.N, self.d_in, self.d_out, self.data_seed, dtype=self.torch_dtype,
                       device=self.device)
