"""Stopping a training run before its last epoch, cleanly (provided code, no question).

A run stops early, *between two optimisation steps*, when it reaches ``max_steps`` steps or ``max_minutes``
minutes of this invocation (:class:`seq2seq.config.RunConfig`), or when the user presses Ctrl-C: the runner then
saves ``last.pt`` as an epoch end does, with the number of the epoch's batches already trained on, so that
``--resume`` skips exactly those batches and goes on (:func:`seq2seq.runner.train`).

:class:`StopGuard` decides; :class:`CappedLoader` wraps the epoch's loader and simply ends the epoch early, so
that Q23's ``train_epoch`` runs unchanged; :func:`ctrl_c_stops` turns the first Ctrl-C into a request to stop
(a second one interrupts at once, as usual).
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any


class StopGuard:
    """Whether the run must stop before its next step: ``max_steps`` steps or ``max_minutes`` minutes of this
    invocation (None: no cap), or a Ctrl-C (``interrupted``). ``reason`` says which, once it happened."""

    def __init__(self, max_steps: int | None = None, max_minutes: float | None = None) -> None:
        self.max_steps, self.max_minutes = max_steps, max_minutes
        self.started = time.monotonic()
        self.steps = 0
        self.interrupted = False
        self.reason: str | None = None

    def should_stop(self) -> bool:
        """True (and ``reason`` set) when no further step may start."""
        if self.interrupted:
            self.reason = "Ctrl-C"
        elif self.max_steps is not None and self.steps >= self.max_steps:
            self.reason = f"the cap max_steps={self.max_steps} reached after {self.steps} steps"
        elif self.max_minutes is not None and time.monotonic() - self.started >= 60 * self.max_minutes:
            self.reason = f"the cap max_minutes={self.max_minutes:g} reached after {self.steps} steps"
        return self.reason is not None


class CappedLoader:
    """An epoch's loader that ends early when ``guard`` says so, and skips the ``skip`` batches a resumed epoch
    had already trained on (its first pass only). ``agree(stop)`` makes the processes of a torchrun run agree on
    the decision (process 0's, broadcast); ``position`` counts the epoch's batches trained on, skipped included;
    ``stopped`` tells whether the last pass ended early."""

    def __init__(self, loader: Any, guard: StopGuard, skip: int = 0,
                 agree: Callable[[bool], bool] = lambda stop: stop) -> None:
        self.loader, self.guard, self.skip, self.agree = loader, guard, skip, agree
        self.batch_sampler = loader.batch_sampler
        self.position, self.stopped = 0, False

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        skip, self.skip = self.skip, 0
        self.position, self.stopped = 0, False
        for index, batch in enumerate(self.loader):
            if index < skip:  # the sampler's order is fixed by (seed, epoch): these were trained on already
                self.position = index + 1
                continue
            if self.agree(self.guard.should_stop()):
                self.stopped = True
                return
            yield batch
            self.guard.steps += 1
            self.position = index + 1


@contextlib.contextmanager
def ctrl_c_stops(guard: StopGuard) -> Iterator[None]:
    """Within the block, the first Ctrl-C (SIGINT) sets ``guard.interrupted`` (the run stops after its current
    step and saves), and puts the previous handler back, so that a second Ctrl-C interrupts at once. Only the
    main thread can handle signals: elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def request_stop(signum: int, frame: Any) -> None:
        guard.interrupted = True
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, request_stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
