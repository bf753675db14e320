"""Error types that carry a title and a user-facing message.

Every error a user can cause (a bad experiments file, a missing dataset, a run
that does not exist) is raised as a subclass of `BirdtuiError`. The CLI prints
its message without a traceback and the UI shows it as a notification.
"""

from __future__ import annotations


class BirdtuiError(Exception):
    """A failure caused by user input or the environment, with a fix in its message."""

    title = "birdtui error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(BirdtuiError):
    """An invalid experiments file or configuration value.

    `path`, `line` and `column` point at the offending text where they are
    known; `key` is the dotted key path such as `experiments[2].optim.lr`.
    """

    title = "Invalid experiments file"
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        key: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.key = key
        self.fix = fix
        super().__init__(self._format(message))
        self.reason = message

    def _format(self, message: str) -> str:
        location = ""
        if self.path is not None:
            location = str(self.path)
            if self.line is not None:
                location += f":{self.line}"
                if self.column is not None:
                    location += f":{self.column}"
            location += ": "
        text = location
        if self.key:
            text += f"{self.key}: "
        text += message
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class DataError(BirdtuiError):
    """A dataset folder that is missing, empty or not in ImageFolder layout."""

    title = "Dataset problem"


class RunError(BirdtuiError):
    """A run that does not exist, is in the wrong state, or cannot be started or killed."""

    title = "Run problem"


class CheckpointError(BirdtuiError):
    """A checkpoint or weights file that is missing, truncated or does not fit the model."""

    title = "Checkpoint problem"
