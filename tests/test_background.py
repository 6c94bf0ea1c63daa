"""Background work that yields to the main thread, and signals that stay with the main thread."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from qrt_runner import background, interrupts


def test_background_steps_wait_for_the_main_thread_to_be_idle(monkeypatch):
    monkeypatch.setattr(background, "_MAX_WAIT_S", 5.0)
    done: list[float] = []

    def work() -> None:
        background.step()
        done.append(time.monotonic())

    background.submit(work, "a test")
    time.sleep(0.3)
    assert not done  # the main thread is busy: the step waits
    with background.waiting():
        marked_idle = time.monotonic()
        time.sleep(0.3)
    assert done and done[0] - marked_idle < 0.25
    background.drain()


def test_a_step_waits_a_bounded_time_and_drain_lets_the_work_run(monkeypatch):
    monkeypatch.setattr(background, "_MAX_WAIT_S", 0.2)
    steps: list[int] = []

    def work() -> None:
        for k in range(3):
            background.step()
            steps.append(k)

    started = time.monotonic()
    background.submit(work, "a test")
    time.sleep(0.1)
    background.drain()
    assert steps == [0, 1, 2] and time.monotonic() - started < 0.6


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
            time.sleep(2)  # the handler raises here, in the main thread
    finally:
        release.set()
        thread.join(5)
        interrupts._RECEIVED.clear()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert not failures
