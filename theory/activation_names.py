"""The activations the toolkit supports (docs/theory.md s1), by name and without SymPy, so that
``infdepth validate --activations`` is checked before anything heavy is imported.
:mod:`infdepth.theory.gaussian_expectations` re-exports both tuples."""

from __future__ import annotations

#: Activations the toolkit supports (docs/theory.md s1).
ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "erf", "linear")
#: Activations whose Gaussian expectations have a closed form here (docs/theory.md s3).
CLOSED_FORM_ACTIVATIONS: tuple[str, ...] = ("relu", "erf", "linear")
