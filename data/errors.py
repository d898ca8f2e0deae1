"""Exceptions raised by the data package."""

from __future__ import annotations


class DataUnavailableError(RuntimeError):
    """The requested data is neither cached, in the mirror, nor downloadable right now.

    The message always says what to download or which environment variable to set.
    """


class ChecksumError(DataUnavailableError):
    """A mirror or downloaded file does not match its published sha256."""
