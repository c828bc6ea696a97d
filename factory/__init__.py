"""fin-factory: verified synthetic chain-of-thought data for regulated finance."""

import warnings
from importlib.metadata import PackageNotFoundError, version

from pydantic.warnings import UnsupportedFieldAttributeWarning

# distilabel 1.5.3 declares Field(default=None) inside Annotated unions, which current pydantic
# warns about when distilabel is imported; the warning is about distilabel's models, not ours,
# and says nothing a user can act on. Here, since any of our modules may import distilabel
# first.
warnings.filterwarnings("ignore", category=UnsupportedFieldAttributeWarning)

try:
    __version__ = version("fin-factory")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
