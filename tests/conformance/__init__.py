"""Differential conformance suite: random PUBs run through qrt_runner and through references.

``strategies`` generates the PUBs (circuits with parameters, resets, mid-circuit measurements and
classical control; parameter values and observables with broadcast shapes); ``references``
computes what the numbers must be (Qiskit's statevector primitives for unitary circuits, an exact
density-matrix branch sum for the others); ``checks`` holds the assertions (shapes, exactness,
statistical agreement at a stated false-alarm rate, clean refusals) shared by
``tests/test_conformance.py`` and ``tests/test_conformance_regressions.py``.
"""
