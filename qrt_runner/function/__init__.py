"""An experiment as a Qiskit Function (Qiskit Serverless).

``qrt-run function pack`` writes a function folder (:mod:`~qrt_runner.function.pack`) whose
entrypoint runs the packed experiment where the gateway starts it
(:mod:`~qrt_runner.function.entrypoint`, points fanned out with Ray by
:mod:`~qrt_runner.function.fanout`); ``upload``, ``run``, ``status``, ``logs`` and ``result`` talk
to a gateway with qiskit-serverless's ``ServerlessClient`` (:mod:`~qrt_runner.function.client`),
and a job's result is recorded like a local run (:mod:`~qrt_runner.function.record`).
"""
