"""infdepth: check the theory of very deep residual networks against experiment.

Subpackages (see DESIGN.md): ``infdepth.theory`` (SymPy derivations and code generation),
``infdepth.numerics`` (finite networks and their limits), ``infdepth.validation`` (claims,
sweeps, rate fits, verdicts), ``infdepth.paper_figs`` (figures).
"""

__version__ = "0.1.0"
