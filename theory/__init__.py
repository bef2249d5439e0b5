"""SymPy layer: size symbols, parameterizations, Gaussian expectations, limits, code generation.

Imports neither ``infdepth.numerics`` nor ``infdepth.validation`` (docs/design.md, data flow).
"""
