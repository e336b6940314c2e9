"""The training pipeline's own errors."""

from __future__ import annotations


class TrainingError(RuntimeError):
    """Training cannot start: missing stage outputs, or inconsistent settings."""
