"""fin-factory: verified synthetic chain-of-thought data for regulated finance."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fin-factory")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
