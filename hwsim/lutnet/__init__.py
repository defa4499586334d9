"""The ``lutnet`` kind: LogicNets-style LUT netlists (docs/lutnet.md).

netlist (format, Numba evaluation, LUTCost), model (quantized sparse MLP -> truth tables, Logic Shrinkage),
train (numpy QAT on scikit-learn's digits), spec (design sections), sim (simulator, cycle-level pipeline),
kratos (constant-weight unrolled primitives), flow (the LUT step of ``hwsim flow``). Importing this package
imports nothing heavy; the submodules import Numba.
"""
