"""The gates a release must pass before anything is sent to the Hub.

Each gate is a named check with a one-line verdict; a release is published only when every gate
passes, and the report says which failed and why. Thresholds come from the recipe's `publish`
section (its defaults when the recipe has none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from factory.cards import (
    DATASET_SECTIONS,
    MODEL_SECTIONS,
    RenderedCard,
    dataset_license,
    missing_sections,
    model_license,
)
from factory.publish.release import DatasetRelease, ModelRelease, PiiScan, scan_pii
from factory.recipe import PublishConfig, RecipeBase

#: How many PII findings a failed gate lists (all are counted).
SHOWN_FINDINGS = 5


@dataclass(frozen=True)
class Gate:
    """One check: its name, whether it passed, and the figures behind the verdict."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateReport:
    """Every gate of one release."""

    gates: tuple[Gate, ...]

    @property
    def passed(self) -> bool:
        return all(gate.passed for gate in self.gates)

    @property
    def failed(self) -> tuple[Gate, ...]:
        return tuple(gate for gate in self.gates if not gate.passed)

    def lines(self) -> list[str]:
        """One line per gate: `PASS name: detail` or `FAIL name: detail`."""
        return [f"{'PASS' if g.passed else 'FAIL'} {g.name}: {g.detail}" for g in self.gates]


def publish_settings(recipe: RecipeBase) -> PublishConfig:
    """The recipe's publish section, or its defaults."""
    return recipe.publish or PublishConfig()


def dataset_gates(
    release: DatasetRelease, card: RenderedCard, *, license_id: str | None = None
) -> GateReport:
    """PII in the data and the card, verifier pass rate, fairness of the engine's labels,
    license, and the card's required sections."""
    settings = publish_settings(release.recipe)
    counts = release.manifest["counts"]
    rate = counts["pass_rate"]
    license_value = dataset_license(release, license_id)
    return GateReport(
        (
            _pii_gate("pii in data", release.pii),
            _pii_gate("pii in card", card_pii(card)),
            Gate(
                "verifier pass rate",
                rate >= settings.min_verifier_pass_rate,
                f"{rate:.1%} of {counts['profiles']:,} profiles kept "
                f"(the recipe asks for at least {settings.min_verifier_pass_rate:.0%})",
            ),
            fairness_gate("fairness of the labels", release.fairness, "engine", settings),
            Gate(
                "license",
                bool(license_value),
                f"dataset license {license_value}"
                if license_value
                else "no dataset license: set publish.dataset_license in the recipe or pass "
                "--license",
            ),
            _sections_gate(card, DATASET_SECTIONS),
        )
    )


def model_gates(
    release: ModelRelease,
    card: RenderedCard,
    *,
    license_id: str | None = None,
    identity: Mapping[str, Any] | None = None,
) -> GateReport:
    """Parity, an evaluation of these very weights, fairness of the model's decisions, PII in
    its training data and card, license, and the card's required sections.

    Args:
        release: the run.
        card: its rendered card.
        license_id: overrides the license.
        identity: the merged model's identity (`factory.evaluate.run.model_identity`), to check
            that eval.json scored these weights; computed when not given.
    """
    settings = publish_settings(release.recipe)
    parity = release.parity
    if parity is None:
        parity_gate = Gate("parity", False, "missing: the run has no parity.json")
    else:
        parity_gate = Gate(
            "parity",
            bool(parity.get("passed")),
            f"max |logit difference| {parity['max_abs_logit_diff']:.2e} (tolerance "
            f"{parity['tolerance']}), greedy mismatches {parity['greedy_mismatches']} of "
            f"{parity['prompts']}",
        )
    license_value = model_license(release, license_id)
    fairness = (release.evaluation or {}).get("model", {}).get("fairness", {})
    return GateReport(
        (
            parity_gate,
            _evaluation_gate(release, identity),
            fairness_gate("fairness of the model's decisions", fairness, "model", settings),
            _pii_gate("pii in training data", release.dataset.pii),
            _pii_gate("pii in card", card_pii(card)),
            Gate(
                "license",
                bool(license_value),
                f"model license {license_value}"
                if license_value
                else f"unknown: the base model {release.base_model} has no license in its card; "
                "set publish.model_license in the recipe or pass --license",
            ),
            _sections_gate(card, MODEL_SECTIONS),
        )
    )


def card_pii(card: RenderedCard) -> PiiScan:
    """The PII scan of a card's text."""
    return scan_pii(iter([("card", None, card.text)]))


def fairness_gate(
    name: str, fairness: Mapping[str, Any], source: str, settings: PublishConfig
) -> Gate:
    """Every measured attribute's adverse impact ratio at or above the threshold, or waived."""
    threshold = settings.min_adverse_impact_ratio
    audits = fairness.get("audits", {})
    if not audits:
        return Gate(name, False, "no fairness figures (evaluate the model first)")
    failing, waived, measured, unmeasured = [], [], [], []
    for attribute, sources in audits.items():
        ratio = sources.get(source, {}).get("adverse_impact_ratio")
        if ratio is None:
            unmeasured.append(attribute)
        elif ratio >= threshold:
            measured.append(f"{attribute} {ratio:.3f}")
        elif attribute in settings.fairness_waivers:
            waived.append(f"{attribute} {ratio:.3f} (waived)")
        else:
            failing.append(f"{attribute} {ratio:.3f}")
    parts = []
    if failing:
        parts.append(f"below {threshold}: {', '.join(failing)}")
    if waived:
        parts.append(", ".join(waived))
    if measured:
        parts.append(f"at or above {threshold}: {', '.join(measured)}")
    if unmeasured:
        parts.append(f"not measured (groups under 30 examples): {', '.join(unmeasured)}")
    detail = "adverse impact ratio " + "; ".join(parts)
    if failing:
        detail += " (fix the data, or waive an attribute with a written justification in "
        detail += "publish.fairness_waivers)"
    return Gate(name, not failing, detail)


def _pii_gate(name: str, scan: PiiScan) -> Gate:
    if scan.clean:
        return Gate(
            name, True, "none found" if scan.texts == 1 else f"none in {scan.texts:,} texts"
        )
    kinds = ", ".join(f"{kind} {n}" for kind, n in scan.by_kind.items() if n)
    shown = "; ".join(
        f"{f.where}{f' row {f.row_id}' if f.row_id else ''} ({'/'.join(f.kinds)}): {f.masked}"
        for f in scan.findings[:SHOWN_FINDINGS]
    )
    return Gate(
        name, False, f"{scan.flagged:,} of {scan.texts:,} texts hold PII ({kinds}): {shown}"
    )


def _sections_gate(card: RenderedCard, required: tuple[str, ...]) -> Gate:
    missing = missing_sections(card.text, required)
    if missing:
        return Gate("card sections", False, f"missing or empty: {', '.join(missing)}")
    return Gate("card sections", True, f"all {len(required)} required sections present")


def _evaluation_gate(release: ModelRelease, identity: Mapping[str, Any] | None) -> Gate:
    if release.evaluation is None:
        return Gate(
            "evaluation",
            False,
            f"missing: no eval.json in {release.folder} (run fin-factory evaluate "
            f"{release.merged} --dataset {release.dataset.folder} --out "
            f"{release.folder / 'eval.json'})",
        )
    scored = release.evaluation.get("model", {}).get("identity", {})
    if identity is None:
        from factory.evaluate.run import model_identity

        identity = model_identity(str(release.merged))
    if scored.get("weights_xxh3_128") != identity.get("weights_xxh3_128"):
        return Gate(
            "evaluation",
            False,
            "eval.json scored other weights than merged/ (re-run fin-factory evaluate)",
        )
    if release.evaluation["dataset"].get("manifest_sha256") != release.dataset.manifest_sha256:
        return Gate(
            "evaluation",
            False,
            "eval.json scored another dataset than the one the model was trained on",
        )
    rows = release.evaluation["dataset"]["rows"]
    split = release.evaluation["dataset"]["split"]
    return Gate("evaluation", True, f"{rows:,} {split} examples scored these weights")
