"""Reports as plain JSON data: dataclasses (metrics, audits) and mappings become dicts."""

from __future__ import annotations

import dataclasses
from typing import Any


def jsonable(value: Any) -> Any:
    """Dataclasses (metrics, audits) and mappings as plain JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "items"):  # Mapping proxies
        return {str(k): jsonable(v) for k, v in value.items()}
    return value
