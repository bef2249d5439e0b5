"""SymPy layer: size symbols, parameterizations, Gaussian expectations, limits, code generation.

Imports neither ``infdepth.numerics`` nor ``infdepth.validation`` (DESIGN.md, data flow).
"""
