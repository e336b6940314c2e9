"""The exceptions the restore library raises; the CLI turns them into messages and exit codes."""

from __future__ import annotations


class RestoreError(Exception):
    """Base class of the errors raised by the restore library."""


class ModelNotFoundError(RestoreError, FileNotFoundError):
    """A model name or directory does not lead to a usable restore model."""


class BackendError(RestoreError):
    """A backend is unknown, not installed, or cannot run the given model."""


class InputError(RestoreError, ValueError):
    """Input the job cannot read: a missing file, invalid UTF-8, binary data, a wrong field."""


class ModelFormatError(ValueError):
    """A model directory's settings are missing, invalid, or from a newer format version."""
