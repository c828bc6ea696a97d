"""The one error family of fin-factory.

Every error a user can cause (bad recipe, missing file, wrong option) is a FactoryError; the CLI
prints its one-line message and exits with its exit code, never a traceback.
"""

from __future__ import annotations


class FactoryError(Exception):
    """Base class for errors a user can act on.

    Attributes:
        exit_code: the process exit code the CLI uses (2 for bad input, 1 for failures).
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class RecipeError(FactoryError):
    """A recipe file is missing, unreadable, not YAML, or does not match the schema."""

    exit_code = 2

    def __init__(self, source: str, message: str, field: str | None = None) -> None:
        where = f"{source}: {field}: " if field else f"{source}: "
        super().__init__(where + message)
        self.source = source
        self.field = field


class UsageError(FactoryError):
    """A command-line option is invalid in a way the option parser cannot see."""

    exit_code = 2


class DatasetError(FactoryError):
    """A generated dataset folder is missing, incomplete or from an incompatible run."""

    exit_code = 2


class BackendError(FactoryError):
    """An LLM server the recipe names cannot be used: unreachable, refusing the key, or
    without the model. Checked before the first shard, so a run never fills up with rejects."""


class IncompleteDatasetError(FactoryError):
    """A run kept fewer examples than the recipe's filters.min_kept_fraction; the dataset is
    written for inspection but marked incomplete, and publish and train refuse it."""
