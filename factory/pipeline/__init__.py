"""distilabel pipeline assembly, sharding, resume and finalization of a generation run."""

import warnings

from pydantic.warnings import UnsupportedFieldAttributeWarning

# distilabel 1.5.3 declares Field(default=None) inside Annotated unions, which current pydantic
# warns about at import; the warning is about distilabel's models, not ours, and says nothing a
# user can act on.
warnings.filterwarnings("ignore", category=UnsupportedFieldAttributeWarning)
