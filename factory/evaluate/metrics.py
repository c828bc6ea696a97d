"""Decision, reason and faithfulness metrics of model outputs against the engine's labels.

Pure functions over plain sequences (one entry per evaluated example, in the same order); the
runner parses outputs with `factory.output.parse_output` and passes what each metric reads.

Every proportion is a `Rate`: the count, the sample size and a Wilson score interval (95% by
default), so a reader can tell 9/10 from 900/1000. Averages of per-example scores are a `Mean`
with a normal-approximation interval. A rate over no examples has value None, never 0.

A prediction that is None or not one of the domain's labels (an output with no usable
<decision>) is a wrong answer for accuracy and recall, and appears in the confusion matrix under
INVALID. `model_index_results` turns a flat metrics mapping into the `results` list of the
Hub's model-index metadata.
"""

from __future__ import annotations

import importlib
import math
import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from factory.domains.base import Fact
from factory.errors import UsageError
from factory.output import ParsedOutput
from factory.verify.numbers import DEFAULT_TOLERANCE, FactTable, extract_numbers

#: Confusion-matrix column of predictions that are missing or not a domain label.
INVALID = "(invalid)"

#: Model-index task types (the Hub's pipeline tags) `model_index_results` accepts.
TASK_TYPES = ("text-generation", "text-classification")

#: Display names of the metric types this package produces, for the model-index.
METRIC_NAMES: Mapping[str, str] = {
    "parse_rate": "Parse rate (outputs in the required format)",
    "accuracy": "Decision accuracy",
    "f1": "Decision macro-F1",
    "false_positive_rate": "False positive rate (legitimate transactions reviewed or blocked)",
    "false_negative_rate": "False negative rate (flagged transactions allowed)",
    "reason_precision": "Reason-code precision against the engine",
    "reason_recall": "Reason-code recall against the engine",
    "faithfulness": "Cited numbers matching the engine's facts",
    "claim_faithfulness": "Answers whose every claim holds (the generation verifier's checks)",
    "verified": "Answers every verifier of the recipe keeps",
    "rougeL": "ROUGE-L F1",
    "bertscore": "BERTScore F1 (all-MiniLM-L6-v2; not comparable with roberta-large BERTScore)",
    "adverse_impact_ratio": "Adverse impact ratio (min/max favourable rate across groups)",
    "demographic_parity_difference": "Demographic parity difference",
    "counterfactual_flip_rate": "Counterfactual flip rate (shown fields the policy ignores)",
}


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion.

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0/n or n/n.

    Args:
        successes: how many of the `n` trials succeeded.
        n: the sample size (at least 1).
        confidence: the coverage, e.g. 0.95.

    Returns:
        (low, high).

    Raises:
        ValueError: n < 1, successes outside 0..n, or confidence outside (0, 1).
    """
    if n < 1:
        raise ValueError("a Wilson interval needs at least one trial")
    if not 0 <= successes <= n:
        raise ValueError(f"successes {successes} is outside 0..{n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence {confidence} is outside (0, 1)")
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    """A proportion with its sample size and confidence interval.

    Attributes:
        successes: the count in the numerator.
        n: the sample size (the denominator).
        value: successes / n; None when n is 0.
        low: lower end of the Wilson interval; None when n is 0.
        high: upper end of the Wilson interval; None when n is 0.
        confidence: the interval's coverage.
    """

    successes: int
    n: int
    value: float | None
    low: float | None
    high: float | None
    confidence: float = 0.95

    @classmethod
    def of(cls, successes: int, n: int, confidence: float = 0.95) -> Rate:
        """The rate successes / n with its Wilson interval (no value when n is 0)."""
        if n == 0:
            if successes:
                raise ValueError(f"successes {successes} is outside 0..0")
            return cls(0, 0, None, None, None, confidence)
        low, high = wilson_interval(successes, n, confidence)
        return cls(successes, n, successes / n, low, high, confidence)


@dataclass(frozen=True)
class Mean:
    """The mean of per-example scores with a normal-approximation confidence interval.

    Attributes:
        value: the mean; None when there are no scores.
        n: how many scores.
        low: mean - z * standard error (within the scores' bounds); None with fewer than two
            scores.
        high: mean + z * standard error (within the scores' bounds); None with fewer than two
            scores.
        confidence: the interval's coverage.
    """

    value: float | None
    n: int
    low: float | None
    high: float | None
    confidence: float = 0.95

    @classmethod
    def of(
        cls,
        values: Sequence[float],
        confidence: float = 0.95,
        bounds: tuple[float, float] | None = None,
    ) -> Mean:
        """The mean of `values` and its interval, clipped to `bounds` when the scores have any."""
        n = len(values)
        if n == 0:
            return cls(None, 0, None, None, confidence)
        mean = math.fsum(values) / n
        if n == 1:
            return cls(mean, 1, None, None, confidence)
        z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
        half = z * statistics.stdev(values) / math.sqrt(n)
        low, high = mean - half, mean + half
        if bounds is not None:
            low, high = max(bounds[0], low), min(bounds[1], high)
        return cls(mean, n, low, high, confidence)


def parse_rate(outputs: Sequence[ParsedOutput]) -> Rate:
    """The share of outputs that follow the required format (`ParsedOutput.ok`)."""
    return Rate.of(sum(output.ok for output in outputs), len(outputs))


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall and F1 of one label.

    Attributes:
        precision: predictions of this label that the engine agrees with.
        recall: the engine's examples of this label that the model predicted.
        f1: harmonic mean of precision and recall; None when the label is neither predicted
            nor in the engine's labels (F1 is undefined, and the label stays out of macro-F1).
        support: the engine's examples of this label.
    """

    precision: Rate
    recall: Rate
    f1: float | None
    support: int


@dataclass(frozen=True)
class DecisionMetrics:
    """How the model's decisions compare with the engine's.

    Attributes:
        accuracy: examples whose predicted decision equals the engine's.
        macro_f1: the mean F1 over labels that are predicted or in the engine's labels;
            None for no examples.
        per_class: ClassMetrics per domain label, in the domain's order.
        confusion: engine label -> predicted label (or INVALID) -> count; rows and columns
            list every domain label (INVALID last), zeros included.
    """

    accuracy: Rate
    macro_f1: float | None
    per_class: Mapping[str, ClassMetrics]
    confusion: Mapping[str, Mapping[str, int]]


def decision_metrics(
    predicted: Sequence[str | None], expected: Sequence[str], labels: Sequence[str]
) -> DecisionMetrics:
    """Accuracy, macro-F1, per-class precision and recall, and the confusion matrix.

    Args:
        predicted: the model's decision per example (`ParsedOutput.decision`; None when absent).
        expected: the engine's decision per example.
        labels: the domain's labels (`Domain.labels`).

    Returns:
        The metrics; a prediction outside `labels` counts as wrong and as INVALID.

    Raises:
        ValueError: the sequences differ in length, or an engine decision is not a label.
    """
    _same_length(predicted=predicted, expected=expected)
    unknown = sorted(set(expected) - set(labels))
    if unknown:
        raise ValueError(f"engine decisions {unknown} are not among the labels {list(labels)}")
    columns = (*labels, INVALID)
    confusion = {row: dict.fromkeys(columns, 0) for row in labels}
    for guess, truth in zip(predicted, expected, strict=True):
        confusion[truth][guess if guess in confusion else INVALID] += 1

    per_class = {}
    for label in labels:
        tp = confusion[label][label]
        support = sum(confusion[label].values())
        predicted_as = sum(confusion[row][label] for row in labels)
        denominator = support + predicted_as
        per_class[label] = ClassMetrics(
            precision=Rate.of(tp, predicted_as),
            recall=Rate.of(tp, support),
            f1=2 * tp / denominator if denominator else None,
            support=support,
        )
    scores = [metrics.f1 for metrics in per_class.values() if metrics.f1 is not None]
    correct = sum(confusion[label][label] for label in labels)
    return DecisionMetrics(
        accuracy=Rate.of(correct, len(expected)),
        macro_f1=math.fsum(scores) / len(scores) if scores else None,
        per_class=per_class,
        confusion=confusion,
    )


@dataclass(frozen=True)
class ErrorRates:
    """Screening errors: legitimate cases flagged, and flagged cases let through.

    Attributes:
        false_positive_rate: of the engine's legitimate cases, those the model flagged.
        false_negative_rate: of the cases the engine flagged, those the model passed as
            legitimate.
        legitimate: the label that lets a case through (fraud: "allow").
        excluded: examples left out because the model stated no domain label (the parse
            rate and accuracy count them).
    """

    false_positive_rate: Rate
    false_negative_rate: Rate
    legitimate: str
    excluded: int


def screening_error_rates(
    predicted: Sequence[str | None],
    expected: Sequence[str],
    *,
    labels: Sequence[str],
    legitimate: str,
) -> ErrorRates:
    """False positive and false negative rates of a screen (the domain's `screening`).

    A case is flagged when its label is any label but `legitimate` (fraud: "review" or
    "block", both of which stop the cardholder's transaction). An output without a domain
    label neither blocks nor allows, so it is left out of both rates and counted in `excluded`.

    Args:
        predicted: the model's decision per example (None when absent).
        expected: the engine's decision per example.
        labels: the domain's labels (`Domain.labels`).
        legitimate: the label that lets a transaction through.

    Raises:
        ValueError: the sequences differ in length, `legitimate` is not a label, or an engine
            decision is not a label.
    """
    _same_length(predicted=predicted, expected=expected)
    if legitimate not in labels:
        raise ValueError(f"{legitimate!r} is not among the labels {list(labels)}")
    unknown = sorted(set(expected) - set(labels))
    if unknown:
        raise ValueError(f"engine decisions {unknown} are not among the labels {list(labels)}")
    legit = legit_flagged = flagged = flagged_passed = excluded = 0
    for guess, truth in zip(predicted, expected, strict=True):
        if guess not in labels:
            excluded += 1
        elif truth == legitimate:
            legit += 1
            legit_flagged += guess != legitimate
        else:
            flagged += 1
            flagged_passed += guess == legitimate
    return ErrorRates(
        false_positive_rate=Rate.of(legit_flagged, legit),
        false_negative_rate=Rate.of(flagged_passed, flagged),
        legitimate=legitimate,
        excluded=excluded,
    )


@dataclass(frozen=True)
class ReasonAgreement:
    """The model's stated reason codes against the engine's, pooled over examples.

    Codes are compared as sets per example (order and repeats do not matter here; the reasons
    verifier checks the principal reason). The intervals treat codes as independent trials,
    which is optimistic when one example contributes several.

    Attributes:
        precision: stated codes that are among the engine's codes for the example.
        recall: engine codes the model stated.
        exact: examples whose stated set equals the engine's (both empty counts as equal).
    """

    precision: Rate
    recall: Rate
    exact: Rate


def reason_agreement(
    predicted: Sequence[Collection[str]], expected: Sequence[Collection[str] | None]
) -> ReasonAgreement:
    """Precision and recall of stated reason codes against the engine's.

    Args:
        predicted: the codes the model named per example (`ParsedOutput.reasons`).
        expected: the engine's reason codes per example (None or empty when it names none).

    Raises:
        ValueError: the sequences differ in length.
    """
    _same_length(predicted=predicted, expected=expected)
    hits = stated = wanted = exact = 0
    for named, engine in zip(predicted, expected, strict=True):
        named_set, engine_set = set(named), set(engine or ())
        hits += len(named_set & engine_set)
        stated += len(named_set)
        wanted += len(engine_set)
        exact += named_set == engine_set
    return ReasonAgreement(
        precision=Rate.of(hits, stated),
        recall=Rate.of(hits, wanted),
        exact=Rate.of(exact, len(expected)),
    )


@dataclass(frozen=True)
class Faithfulness:
    """How many cited numbers the engine's facts vouch for.

    Attributes:
        numbers: cited numbers (in <reasoning> and <answer>) that match a fact, under the
            numbers verifier's rule (factory.verify.numbers).
        examples: examples all of whose cited numbers match (an example citing none counts).
    """

    numbers: Rate
    examples: Rate


def faithfulness(
    outputs: Sequence[ParsedOutput],
    facts: Sequence[Mapping[str, Fact]],
    tolerance: float = DEFAULT_TOLERANCE,
) -> Faithfulness:
    """The share of numbers the model cites that match the engine's facts.

    Args:
        outputs: the parsed model outputs.
        facts: the engine's facts per example (`Domain.facts` of the row).
        tolerance: the numbers verifier's relative tolerance (the recipe's
            `filters.number_tolerance`).

    Raises:
        ValueError: the sequences differ in length.
    """
    _same_length(outputs=outputs, facts=facts)
    matched = cited = faithful = 0
    for output, example_facts in zip(outputs, facts, strict=True):
        text = output.reasoning if output.answer is None else f"{output.reasoning}\n{output.answer}"
        numbers = extract_numbers(text)
        table = FactTable(example_facts.values())
        hits = sum(table.matches(number, tolerance) for number in numbers)
        matched += hits
        cited += len(numbers)
        faithful += hits == len(numbers)
    return Faithfulness(numbers=Rate.of(matched, cited), examples=Rate.of(faithful, len(outputs)))


def model_index_results(
    metrics: Mapping[str, Rate | Mean | float | None],
    *,
    task_type: str,
    dataset_name: str,
    dataset_type: str,
    split: str = "test",
    task_name: str | None = None,
    dataset_config: str | None = None,
    names: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The `results` list of a model card's model-index for one task and dataset.

    Args:
        metrics: metric type -> value ("accuracy", "f1", "rougeL", "bertscore", ... or any
            type the Hub accepts); a Rate or Mean gives its value, and metrics without a value
            (no examples) are left out.
        task_type: "text-generation" or "text-classification".
        dataset_name: the dataset's display name.
        dataset_type: the dataset's Hub id, e.g. "org/fin-factory-lending".
        split: the evaluated split.
        task_name: the task's display name, e.g. "Loan decision".
        dataset_config: the dataset's config name, when it has several.
        names: display names per metric type; METRIC_NAMES fills the rest.

    Returns:
        `[{"task": ..., "dataset": ..., "metrics": [{"type", "value", "name"}, ...]}]`, or []
        when no metric has a value.

    Raises:
        ValueError: an unknown task type.
    """
    if task_type not in TASK_TYPES:
        raise ValueError(f"unknown task type {task_type!r}; use one of {', '.join(TASK_TYPES)}")
    entries = []
    for metric_type, metric in metrics.items():
        value = metric.value if isinstance(metric, Rate | Mean) else metric
        if value is None:
            continue
        name = (names or {}).get(metric_type) or METRIC_NAMES.get(metric_type, metric_type)
        entries.append({"type": metric_type, "value": float(value), "name": name})
    if not entries:
        return []
    task: dict[str, Any] = {"type": task_type}
    if task_name:
        task["name"] = task_name
    dataset: dict[str, Any] = {"name": dataset_name, "type": dataset_type}
    if dataset_config:
        dataset["config"] = dataset_config
    dataset["split"] = split
    return [{"task": task, "dataset": dataset, "metrics": entries}]


def import_evaluate_dependency(module: str) -> ModuleType:
    """Imports a package of the `evaluate` extra, or raises a UsageError saying how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise UsageError(
            f"evaluation needs {module.split('.')[0]}, which is not installed: install "
            "fin-factory[evaluate] (pip install 'fin-factory[evaluate]')"
        ) from error


def _same_length(**sequences: Sequence[Any]) -> None:
    lengths = {name: len(values) for name, values in sequences.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} {length}" for name, length in lengths.items())
        raise ValueError(f"one entry per example expected, got {shown}")
