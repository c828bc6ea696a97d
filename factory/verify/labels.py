"""The decision and reasons verifiers: the labels an explanation states must be the engine's.

Both read a `factory.output.ParsedOutput` and return None when the example passes, or a short
human-readable detail ("stated approve, engine deny") when it fails. Decisions compare
case-insensitively; reason codes compare exactly (they are upper-case registry keys).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from factory.output import ParsedOutput


def check_decision(parsed: ParsedOutput, engine_decision: str) -> str | None:
    """Checks that the stated decision equals the engine's.

    Args:
        parsed: the parsed assistant message.
        engine_decision: the label the policy engine computed.

    Returns:
        None when they agree, else e.g. "stated approve, engine deny".
    """
    expected = engine_decision.strip().lower()
    if parsed.decision is None:
        return f"no decision stated, engine {expected}"
    if parsed.decision != expected:
        return f"stated {parsed.decision}, engine {expected}"
    return None


def check_reasons(
    parsed: ParsedOutput, engine_codes: Sequence[str] | None, known_codes: Collection[str]
) -> str | None:
    """Checks that the principal reasons named are the engine's.

    The example passes when the codes in <reasons> equal the engine's codes as a set, each is
    named once, and the first named is the engine's first (the principal reason); the order of
    the others is free. When the engine names no reason, no <reasons> block is needed, and a
    block that names codes fails. Codes outside `known_codes` fail with their names.

    Args:
        parsed: the parsed assistant message.
        engine_codes: the engine's principal reason codes, most important first (None or empty
            when the decision needs none).
        known_codes: every reason code the domain defines.

    Returns:
        None when the reasons agree, else a detail naming the unknown, missing or extra codes.
    """
    engine = tuple(engine_codes) if engine_codes is not None else ()
    named = parsed.reasons
    unknown = [code for code in dict.fromkeys(named) if code not in known_codes]
    if unknown:
        return f"unknown reason code {_names(unknown)}"
    if not engine:
        return f"named {_names(named)}, engine names no reason" if named else None
    if not named:
        return f"no reasons named, engine names {_names(engine)}"
    repeated = [code for code in dict.fromkeys(named) if named.count(code) > 1]
    if repeated:
        return f"reason {_names(repeated)} named more than once"
    missing = [code for code in engine if code not in named]
    extra = [code for code in named if code not in engine]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {_names(missing)}")
        if extra:
            parts.append(f"extra {_names(extra)}")
        return ", ".join(parts)
    if named[0] != engine[0]:
        return f"first reason {named[0]}, engine's principal reason {engine[0]}"
    return None


def _names(codes: Sequence[str]) -> str:
    return ", ".join(codes)
