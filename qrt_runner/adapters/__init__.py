"""The one door to other projects' internals.

The rule: ``qrt_runner`` touches another project's private or undocumented API (a name with a
leading underscore, a module under ``_internal`` or ``externals``, a database schema, the wording of
a message or an exception) only here, through one small module per project:

* :mod:`~qrt_runner.adapters.hydra`: Hydra's config loader and the plugins Hydra ships (joblib
  launcher, Optuna sweeper);
* :mod:`~qrt_runner.adapters.omegaconf`: OmegaConf's nodes;
* :mod:`~qrt_runner.adapters.mlflow`: MLflow's SQL schema and store module;
* :mod:`~qrt_runner.adapters.loky`: the loky that joblib vendors;
* :mod:`~qrt_runner.adapters.qiskit_aer`: Aer's noise models, noise passes and channel instructions;
* :mod:`~qrt_runner.adapters.qiskit_ibm_runtime`: the ``Unset`` of IBM's options;
* :mod:`~qrt_runner.adapters.optuna`: Optuna's words for a study without a completed trial;
* :mod:`~qrt_runner.adapters.python`: CPython's ``atexit`` and ``multiprocessing.forkserver``;
* :mod:`~qrt_runner.adapters.ray`: Ray's address lookup and the task references Hydra's Ray launcher
  submits (the ``ray`` extra; its ranges are the extra's);
* :mod:`~qrt_runner.adapters.stevedore`: the entry points stevedore lists for a namespace (which
  transpiler plugins Qiskit loads).

Each function's docstring names the private thing it uses and the public API it stands in for (or
says that none exists). Each module's ``SUPPORTED`` maps the packages it reaches into to the
version ranges it was checked against, the same ranges ``pyproject.toml`` declares, and its
``check_supported()`` raises :class:`~qrt_runner.adapters.versions.UnsupportedVersion` naming the
package, the installed version and the range. ``tests/test_adapters.py`` exercises every function
against the installed libraries and checks that ``SUPPORTED`` and ``pyproject.toml`` agree.

Adapters are the lowest layer: they import nothing from ``qrt_runner`` but :mod:`qrt_runner.errors`
(and :mod:`~qrt_runner.adapters.versions`). They import the other project inside their functions,
so importing an adapter costs nothing; this package imports none of them.
"""
