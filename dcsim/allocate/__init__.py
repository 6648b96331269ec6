"""The LP/MILP allocator: the origin document's cost-plus-fault-impact model, on PuLP.

:mod:`dcsim.allocate.schema` is the problem file, :mod:`dcsim.allocate.model` the pure
problem builder and the solver call (HiGHS through highspy, or CBC), and
:mod:`dcsim.allocate.report` the tables and the lambda sweep.
"""
