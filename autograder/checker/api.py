"""What a hidden-check file imports."""
from autograder.protocol.harvest_request import HarvestRequest

__all__ = ["HarvestRequest", "StudentError", "PartialCredit"]


class StudentError(Exception):
    """A failure caused by the submission (missing function, call raised...); its text is shown."""


class PartialCredit(AssertionError):
    """Raised by the `credit` fixture when only part of a check's cases passed."""

    def __init__(self, earned: int, total: int, message: str):
        super().__init__(message)
        self.fraction = earned / total if total else 0.0
