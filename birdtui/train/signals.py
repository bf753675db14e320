"""SIGTERM and SIGINT turn into a stop request that the training loop checks between steps.

This module imports no torch, so `python -m birdtui.train` can install the
handlers before the seconds-long torch import and still end cleanly when it
is stopped during that import.
"""

from __future__ import annotations

import os
import signal
from types import FrameType


class StopRequested(Exception):
    """Raised inside the training loop once a stop signal has arrived."""


class StopFlag:
    """Remembers the first SIGTERM or SIGINT so the worker can finish the step and exit."""

    def __init__(self) -> None:
        self.signal_number: int | None = None
        self._owner_pid = os.getpid()

    @property
    def requested(self) -> bool:
        return self.signal_number is not None

    def install(self) -> "StopFlag":
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self._handle)
        return self

    def check(self) -> None:
        """Raise StopRequested when a stop signal has arrived."""
        if self.signal_number is not None:
            raise StopRequested(signal.Signals(self.signal_number).name)

    def _handle(self, number: int, frame: FrameType | None) -> None:
        if os.getpid() != self._owner_pid:
            # A forked DataLoader worker inherited this handler: die the default way instead.
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)
            return
        if self.signal_number is None:
            self.signal_number = number
        elif number == signal.SIGINT:
            # A second Ctrl-C means the user will not wait for the step to finish. A repeated
            # SIGTERM is ignored, because a supervisor may send one to the pid and one to the group.
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)
