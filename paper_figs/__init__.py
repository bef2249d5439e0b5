"""Figures (docs/theory.md s9): figure kinds (rate plot, phase map, regime map, transfer,
depth-as-width) that read a claim's tidy tables and write PNG + PDF. A claim names the kinds it
uses (``Claim.figures``); :func:`make_figures` draws them all."""

from .registry import KINDS, make_figures

__all__ = ["KINDS", "make_figures"]
