"""The closed registry of domains. A recipe names a key of DOMAIN_MODULES, never a Python path.

Adding a domain: write a package under factory/domains/ that exports `DOMAIN` (an instance of
factory.domains.base.Domain) and add one line here.
"""

from __future__ import annotations

import importlib
from functools import cache

from factory.domains.base import Domain, Fact, PolicyBase, Task

DOMAIN_MODULES: dict[str, str] = {
    "lending": "factory.domains.lending",
    "fraud": "factory.domains.fraud",
    "credit_report": "factory.domains.credit_report",
    "knowledge": "factory.domains.knowledge",
}


@cache
def get_domain(name: str) -> Domain:
    """Returns the registered domain called `name`.

    Raises:
        KeyError: when no domain has that name.
    """
    if name not in DOMAIN_MODULES:
        raise KeyError(name)
    module = importlib.import_module(DOMAIN_MODULES[name])
    domain: Domain = module.DOMAIN
    return domain


def domain_names() -> list[str]:
    return list(DOMAIN_MODULES)


__all__ = ["DOMAIN_MODULES", "Domain", "Fact", "PolicyBase", "Task", "domain_names", "get_domain"]
