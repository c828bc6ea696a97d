"""distilabel pipeline assembly, sharding, resume and finalization of a generation run."""

from factory import _distilabel  # noqa: F401  (must run before distilabel is imported)
