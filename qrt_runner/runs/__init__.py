"""One config point's run: checked, prepared, tracked, executed and recorded (Hydra's task
function, :func:`qrt_runner.runs.task.run_task`), with what a point knows of its sweep.

This layer sits below the sweep layer (which opens and closes sweeps around the points) and the
command line (which starts Hydra), and above tracking, tasks and the library.
"""
