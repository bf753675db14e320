"""SIGTERM and SIGINT turn into a stop request that the training loop checks between steps.

This module imports no torch, so `python -m birdtui.train` can install the
handlers before the seconds-long torch import and still end cleanly when it
is stopped during that import.

A step that has not finished `grace_seconds` after the signal (a large model
on the CPU can take longer than that) is abandoned: the worker's abandon
callback writes the end record and exits at once. The environment variable
BIRDTUI_STOP_GRACE_SECONDS overrides the default grace period.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType
from typing import Callable

DEFAULT_GRACE_SECONDS = 3.0
GRACE_ENV = "BIRDTUI_STOP_GRACE_SECONDS"


class StopRequested(BaseException):
    """Raised inside the training loop once a stop signal has arrived.

    It derives from BaseException, as KeyboardInterrupt does, so that no
    `except Exception` between the loop and the worker's handler swallows it.
    """


def grace_from_environment() -> float:
    text = os.environ.get(GRACE_ENV)
    if text is None:
        return DEFAULT_GRACE_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        print(f"birdtui: invalid {GRACE_ENV}={text!r}, expected a number of seconds above 0; using {DEFAULT_GRACE_SECONDS:g}", file=sys.stderr)
        return DEFAULT_GRACE_SECONDS
    return seconds


class StopFlag:
    """Remembers the first SIGTERM or SIGINT so the worker can finish the step and exit."""

    def __init__(self, grace_seconds: float | None = None) -> None:
        self.signal_number: int | None = None
        self.grace_seconds = grace_seconds
        # Set by the worker once it can write an end record; called to exit without finishing the step.
        self.abandon: Callable[[int], None] | None = None
        self._owner_pid = os.getpid()
        self._timer_armed = False

    @property
    def requested(self) -> bool:
        return self.signal_number is not None

    def install(self) -> "StopFlag":
        """Handle SIGTERM and SIGINT in this process, with the grace period from the environment."""
        if self.grace_seconds is None:
            self.grace_seconds = grace_from_environment()
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self._handle)
        if hasattr(signal, "SIGALRM"):
            signal.signal(signal.SIGALRM, self._grace_expired)
        else:
            # Windows has no SIGALRM, so a stop there always waits for the step to finish.
            self.grace_seconds = 0.0
        return self

    def check(self) -> None:
        """Raise StopRequested when a stop signal has arrived."""
        if self.signal_number is not None:
            raise StopRequested(signal.Signals(self.signal_number).name)

    def disarm(self) -> None:
        """Stop the grace timer and drop the abandon callback, before the worker writes its end record."""
        self.abandon = None
        # Only a timer of our own is cancelled: pytest-timeout, for one, uses the same ITIMER_REAL.
        if self._timer_armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self._timer_armed = False

    def _handle(self, number: int, frame: FrameType | None) -> None:
        if os.getpid() != self._owner_pid:
            # A forked DataLoader worker inherited this handler: die the default way instead.
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)
            return
        if self.signal_number is None:
            self.signal_number = number
            if self.grace_seconds:
                signal.setitimer(signal.ITIMER_REAL, self.grace_seconds)
                self._timer_armed = True
        elif number == signal.SIGINT:
            # A second Ctrl-C means the user will not wait for the step to finish. A repeated
            # SIGTERM is ignored, because a supervisor may send one to the pid and one to the group.
            self._abandon_now(f"second {signal.Signals(number).name}")

    def _grace_expired(self, number: int, frame: FrameType | None) -> None:
        self._abandon_now(f"the current step did not finish within {self.grace_seconds:g} s")

    def _abandon_now(self, reason: str) -> None:
        abandon = self.abandon
        if abandon is None or self.signal_number is None:
            return  # the worker has disarmed the stop and is writing its end record already
        print(f"birdtui: {reason}; abandoning the step and exiting", file=sys.stderr, flush=True)
        abandon(self.signal_number)
