"""Errors a user can cause. The CLI prints their message (one line, no traceback) and exits 2."""

from __future__ import annotations


class CnnzooError(Exception):
    """Base class of every error caused by user input: a bad file, spec, name or shape."""


class UnknownModelError(CnnzooError, KeyError):
    """A model name that is not in the registry (the message lists the close matches)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ConfigError(CnnzooError, ValueError):
    """A configuration key, value or file that does not fit the expected schema."""


class DataError(CnnzooError, ValueError):
    """A data set, folder or image that cannot be used as asked."""


class OutputError(CnnzooError, OSError):
    """A file that cannot be written: disk full, read-only folder, a file where a folder should be."""


class CheckpointError(CnnzooError, ValueError):
    """A checkpoint that is missing, unsafe, or does not fit the model."""
