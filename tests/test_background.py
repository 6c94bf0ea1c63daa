"""Background work that yields to the main thread, and signals that stay with the main thread."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from qrt_runner import background, interrupts


def test_background_steps_wait_for_the_main_thread_to_be_idle(monkeypatch):
    monkeypatch.setattr(background, "_MAX_WAIT_S", 600.0)  # longer than the test: only idleness ends the wait
    stepped = threading.Event()

    def work() -> None:
        background.step()
        stepped.set()

    background.submit(work, "a test")
    time.sleep(0.3)
    assert not stepped.is_set()  # the main thread is busy: the step waits
    with background.waiting():
        ran_while_idle = stepped.wait(120)  # bounds a hang only
    assert ran_while_idle  # the step went on while the main thread was idle
    background.drain()


def test_a_step_waits_a_bounded_time_and_drain_lets_the_work_run(monkeypatch):
    monkeypatch.setattr(background, "_MAX_WAIT_S", 0.2)
    stepped = threading.Event()

    def step_once() -> None:
        background.step()
        stepped.set()

    background.submit(step_once, "a test")
    assert stepped.wait(120)  # the main thread never idles: the step went on after _MAX_WAIT_S

    monkeypatch.setattr(background, "_MAX_WAIT_S", 600.0)  # longer than the test: only drain() can free the steps
    steps: list[int] = []

    def work() -> None:
        for k in range(3):
            background.step()
            steps.append(k)

    background.submit(work, "a test")
    time.sleep(0.1)
    drained = threading.Thread(target=background.drain, daemon=True)
    drained.start()
    drained.join(120)  # bounds a hang only
    assert not drained.is_alive() and steps == [0, 1, 2]


def test_a_failing_background_record_is_one_warning_and_the_next_one_still_runs(capsys):
    ran = []
    background.submit(lambda: 1 / 0, "run A")
    background.submit(lambda: ran.append(True), "run B")
    background.drain()
    assert ran == [True]
    assert "the record of run A is incomplete (ZeroDivisionError" in capsys.readouterr().err


def test_a_signal_while_another_thread_defers_reaches_the_main_thread():
    """A thread in ``interrupts.deferred()`` (a store call on a background thread) must not hold
    the main thread's SIGTERM back, nor receive it."""
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    interrupts.install()
    inside, release, failures = threading.Event(), threading.Event(), []

    def hold() -> None:
        try:
            with interrupts.deferred():
                inside.set()
                release.wait(5)
        except BaseException as exc:  # noqa: BLE001 - what this test looks for
            failures.append(exc)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        inside.wait(5)
        with pytest.raises(interrupts.Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(120)  # the handler raises here, in the main thread (at once)
    finally:
        release.set()
        thread.join(5)
        interrupts._RECEIVED.clear()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert not failures
