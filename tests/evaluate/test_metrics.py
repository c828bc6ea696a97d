"""Evaluation metrics on hand-made cases with known values, edge cases included."""

from __future__ import annotations

import subprocess
import sys

import pytest

from factory.domains import get_domain
from factory.domains.base import Fact
from factory.errors import UsageError
from factory.evaluate.metrics import (
    INVALID,
    Mean,
    Rate,
    decision_metrics,
    faithfulness,
    import_evaluate_dependency,
    model_index_results,
    parse_rate,
    reason_agreement,
    screening_error_rates,
    wilson_interval,
)
from factory.output import ParsedOutput, parse_output, render_output

LENDING = ("approve", "refer", "deny")


# Wilson intervals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (8, 10, 0.4902, 0.9433),  # textbook values (Newcombe 1998 style tables)
        (0, 10, 0.0, 0.2775),  # z^2 / (n + z^2)
        (10, 10, 0.7225, 1.0),
        (1, 1, 0.2065, 1.0),
        (50, 100, 0.4038, 0.5962),
    ],
)
def test_wilson_interval_known_values(successes, n, low, high):
    got = wilson_interval(successes, n)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_wilson_interval_narrows_with_the_sample_and_widens_with_confidence():
    small = wilson_interval(8, 10)
    large = wilson_interval(800, 1000)
    assert large[1] - large[0] < small[1] - small[0]
    assert wilson_interval(8, 10, 0.99)[0] < small[0]


@pytest.mark.parametrize(("successes", "n"), [(0, 0), (3, 2), (-1, 4)])
def test_wilson_interval_rejects_impossible_counts(successes, n):
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


def test_rate_of_nothing_has_no_value():
    rate = Rate.of(0, 0)
    assert (rate.value, rate.low, rate.high, rate.n) == (None, None, None, 0)
    with pytest.raises(ValueError):
        Rate.of(1, 0)


def test_rate_carries_value_sample_size_and_interval():
    rate = Rate.of(3, 4)
    assert rate.value == 0.75
    assert rate.n == 4 and rate.successes == 3
    assert rate.low < 0.75 < rate.high


def test_mean_interval_is_the_normal_approximation():
    mean = Mean.of([0.5, 0.7])
    # stdev 0.1414, standard error 0.1: 1.96 either side
    assert mean.value == pytest.approx(0.6)
    assert (mean.low, mean.high) == pytest.approx((0.6 - 0.196, 0.6 + 0.196), abs=1e-3)
    clipped = Mean.of([0.1, 1.0], bounds=(0.0, 1.0))
    assert (clipped.low, clipped.high) == (0.0, 1.0)
    assert Mean.of([]).value is None
    one = Mean.of([0.3])
    assert (one.value, one.n, one.low, one.high) == (0.3, 1, None, None)


# Parse rate -------------------------------------------------------------------------------------


def test_parse_rate_counts_outputs_in_the_format():
    good = render_output("DTI is fine.", "approve")
    outputs = [parse_output(good), parse_output("approve"), parse_output(None), parse_output(good)]
    rate = parse_rate(outputs)
    assert (rate.successes, rate.n, rate.value) == (2, 4, 0.5)


def test_parse_rate_when_nothing_parses():
    rate = parse_rate([parse_output("no tags"), parse_output("")])
    assert (rate.successes, rate.n, rate.value) == (0, 2, 0.0)
    assert rate.low == 0.0 and rate.high == pytest.approx(0.6576, abs=1e-4)


def test_parse_rate_of_no_outputs():
    assert parse_rate([]).value is None


# Decisions --------------------------------------------------------------------------------------


def test_decision_metrics_hand_made_case():
    expected = ["approve", "approve", "deny", "deny", "refer"]
    predicted = ["approve", "deny", "deny", None, "refer"]
    metrics = decision_metrics(predicted, expected, LENDING)

    assert (metrics.accuracy.successes, metrics.accuracy.n) == (3, 5)
    approve, deny, refer = (metrics.per_class[label] for label in ("approve", "deny", "refer"))
    assert (approve.precision.value, approve.recall.value) == (1.0, 0.5)
    assert approve.f1 == pytest.approx(2 / 3)
    assert (deny.precision.value, deny.recall.value, deny.f1) == (0.5, 0.5, 0.5)
    assert (refer.precision.value, refer.recall.value, refer.f1) == (1.0, 1.0, 1.0)
    assert (approve.support, deny.support, refer.support) == (2, 2, 1)
    assert metrics.macro_f1 == pytest.approx((2 / 3 + 0.5 + 1.0) / 3)
    assert metrics.confusion == {
        "approve": {"approve": 1, "refer": 0, "deny": 1, INVALID: 0},
        "refer": {"approve": 0, "refer": 1, "deny": 0, INVALID: 0},
        "deny": {"approve": 0, "refer": 0, "deny": 1, INVALID: 1},
    }


def test_decision_metrics_agree_with_scikit_learn():
    metrics_module = pytest.importorskip("sklearn.metrics")
    expected = ["approve"] * 6 + ["refer"] * 3 + ["deny"] * 5
    predicted = ["approve"] * 4 + ["deny", "refer", "refer", "approve", None]
    predicted += ["deny", "deny", "maybe", "approve", "deny"]
    ours = decision_metrics(predicted, expected, LENDING)
    shown = [p if p in LENDING else INVALID for p in predicted]
    theirs = metrics_module.f1_score(expected, shown, labels=list(LENDING), average="macro")
    assert ours.macro_f1 == pytest.approx(theirs)
    assert ours.accuracy.value == pytest.approx(metrics_module.accuracy_score(expected, shown))
    precision = metrics_module.precision_score(expected, shown, labels=list(LENDING), average=None)
    assert [ours.per_class[label].precision.value for label in LENDING] == pytest.approx(
        list(precision)
    )


def test_decision_metrics_with_one_class_only():
    metrics = decision_metrics(["approve"] * 3, ["approve"] * 3, LENDING)
    assert metrics.accuracy.value == 1.0
    # refer and deny are neither predicted nor expected: F1 undefined, left out of the mean
    assert metrics.macro_f1 == 1.0
    assert metrics.per_class["deny"].f1 is None
    assert metrics.per_class["deny"].precision.value is None
    assert metrics.per_class["deny"].recall.n == 0


def test_decision_metrics_when_nothing_parsed():
    metrics = decision_metrics([None, None, "maybe"], ["approve", "deny", "deny"], LENDING)
    assert metrics.accuracy.value == 0.0
    assert metrics.macro_f1 == 0.0
    assert metrics.confusion["deny"][INVALID] == 2
    assert metrics.per_class["approve"].precision.n == 0


def test_decision_metrics_of_no_examples():
    metrics = decision_metrics([], [], LENDING)
    assert metrics.accuracy.value is None and metrics.accuracy.n == 0
    assert metrics.macro_f1 is None
    assert all(count == 0 for row in metrics.confusion.values() for count in row.values())


def test_decision_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="one entry per example"):
        decision_metrics(["approve"], ["approve", "deny"], LENDING)
    with pytest.raises(ValueError, match="not among the labels"):
        decision_metrics(["approve"], ["allow"], LENDING)


# Fraud error rates ------------------------------------------------------------------------------


def test_fraud_labels_match_the_legitimate_default():
    domain = get_domain("fraud")
    assert "allow" in domain.labels
    assert domain.adverse_labels == set(domain.labels) - {"allow"}


def test_screening_error_rates_hand_made_case():
    labels = get_domain("fraud").labels
    expected = ["allow", "allow", "allow", "allow", "review", "block", "block"]
    predicted = ["allow", "review", "block", None, "allow", "block", "review"]
    rates = screening_error_rates(predicted, expected, labels=labels, legitimate="allow")
    # legitimate: 3 with a decision, 2 reviewed or blocked
    assert (rates.false_positive_rate.successes, rates.false_positive_rate.n) == (2, 3)
    # flagged by the engine: 3, 1 allowed (review -> allow); block -> review still stops it
    assert (rates.false_negative_rate.successes, rates.false_negative_rate.n) == (1, 3)
    assert rates.excluded == 1
    assert rates.legitimate == "allow"


def test_screening_error_rates_edge_cases():
    labels = ("allow", "review", "block")
    only_legit = screening_error_rates(
        ["allow", "allow"], ["allow", "allow"], labels=labels, legitimate="allow"
    )
    assert only_legit.false_positive_rate.value == 0.0
    assert only_legit.false_negative_rate.value is None
    empty = screening_error_rates([], [], labels=labels, legitimate="allow")
    assert empty.false_positive_rate.n == empty.false_negative_rate.n == 0
    unparsed = screening_error_rates([None], ["block"], labels=labels, legitimate="allow")
    assert unparsed.excluded == 1 and unparsed.false_negative_rate.n == 0
    with pytest.raises(ValueError, match="not among the labels"):
        screening_error_rates(["allow"], ["allow"], labels=labels, legitimate="approve")


# Reasons ----------------------------------------------------------------------------------------


def test_reason_agreement_hand_made_case():
    predicted = [("DTI", "SCORE"), ("UTIL",), ()]
    expected = [("DTI",), ("UTIL", "LATE"), None]
    agreement = reason_agreement(predicted, expected)
    assert (agreement.precision.successes, agreement.precision.n) == (2, 3)
    assert (agreement.recall.successes, agreement.recall.n) == (2, 3)
    assert (agreement.exact.successes, agreement.exact.n) == (1, 3)  # both empty agree


def test_reason_agreement_ignores_order_and_repeats():
    agreement = reason_agreement([("B", "A", "A")], [("A", "B")])
    assert (agreement.precision.value, agreement.recall.value, agreement.exact.value) == (1, 1, 1)


def test_reason_agreement_when_no_reasons_anywhere():
    agreement = reason_agreement([(), ()], [None, ()])
    assert agreement.precision.value is None and agreement.recall.value is None
    assert agreement.exact.value == 1.0
    assert reason_agreement([], []).exact.n == 0


# Faithfulness -----------------------------------------------------------------------------------

FACTS = {"dti": Fact(0.4312, percent=True), "income": Fact(84_312.0), "dti_max": Fact(0.43)}


def test_faithfulness_counts_cited_numbers_that_match_facts():
    cites_a_wrong_one = parse_output(
        render_output("DTI is 43.1% on income of $84,312, above the 40% limit.", "deny", ["DTI"])
    )
    cites_none = parse_output(render_output("Everything is in order.", "approve"))
    wrong_answer = ParsedOutput(reasoning="Income is $84,312.", answer="You owe $5 more.")
    result = faithfulness([cites_a_wrong_one, cites_none, wrong_answer], [FACTS] * 3)
    # 43.1% and $84,312 match; 40% does not; $84,312 matches; the answer's $5 does not
    assert (result.numbers.successes, result.numbers.n) == (3, 5)
    assert (result.examples.successes, result.examples.n) == (1, 3)


def test_faithfulness_follows_the_tolerance():
    output = ParsedOutput(reasoning="Income is $85,000.")
    assert faithfulness([output], [FACTS]).numbers.value == 0.0
    assert faithfulness([output], [FACTS], tolerance=0.01).numbers.value == 1.0


def test_faithfulness_of_nothing():
    result = faithfulness([], [])
    assert result.numbers.value is None and result.examples.value is None
    with pytest.raises(ValueError):
        faithfulness([ParsedOutput()], [])


# Model-index ------------------------------------------------------------------------------------


def test_model_index_results_shape_and_hub_round_trip():
    results = model_index_results(
        {
            "accuracy": Rate.of(9, 10),
            "f1": 0.8,
            "bertscore": Mean.of([0.9, 0.8]),
            "false_positive_rate": Rate.of(0, 0),  # no legitimate cases: left out
        },
        task_type="text-generation",
        task_name="Loan decision",
        dataset_name="fin-factory lending",
        dataset_type="org/lending-cot",
        split="test",
    )
    assert results == [
        {
            "task": {"type": "text-generation", "name": "Loan decision"},
            "dataset": {"name": "fin-factory lending", "type": "org/lending-cot", "split": "test"},
            "metrics": [
                {"type": "accuracy", "value": 0.9, "name": "Decision accuracy"},
                {"type": "f1", "value": 0.8, "name": "Decision macro-F1"},
                {
                    "type": "bertscore",
                    "value": pytest.approx(0.85),
                    "name": "BERTScore F1 (all-MiniLM-L6-v2; not comparable with roberta-large "
                    "BERTScore)",
                },
            ],
        }
    ]
    from huggingface_hub.repocard_data import model_index_to_eval_results

    name, parsed = model_index_to_eval_results([{"name": "fin-lending", "results": results}])
    assert name == "fin-lending"
    assert [r.metric_type for r in parsed] == ["accuracy", "f1", "bertscore"]
    assert (parsed[0].task_type, parsed[0].dataset_type) == ("text-generation", "org/lending-cot")
    assert (parsed[0].dataset_split, parsed[0].metric_value) == ("test", 0.9)


def test_model_index_results_names_and_edge_cases():
    results = model_index_results(
        {"rougeL": 0.7},
        task_type="text-classification",
        dataset_name="d",
        dataset_type="o/d",
        dataset_config="summary",
        names={"rougeL": "ROUGE-L on summaries"},
    )
    assert results[0]["metrics"] == [
        {"type": "rougeL", "value": 0.7, "name": "ROUGE-L on summaries"}
    ]
    assert results[0]["dataset"]["config"] == "summary"
    assert "name" not in results[0]["task"]
    empty = model_index_results(
        {"accuracy": Rate.of(0, 0)}, task_type="text-generation", dataset_name="d",
        dataset_type="o/d",
    )  # fmt: skip
    assert empty == []
    with pytest.raises(ValueError, match="unknown task type"):
        model_index_results({}, task_type="summarization", dataset_name="d", dataset_type="o/d")


# Imports ----------------------------------------------------------------------------------------


def test_missing_dependency_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "fairlearn", None)
    monkeypatch.setitem(sys.modules, "fairlearn.metrics", None)
    with pytest.raises(UsageError, match=r"fin-factory\[evaluate\]"):
        import_evaluate_dependency("fairlearn.metrics")


def test_evaluate_modules_import_no_heavy_packages():
    code = (
        "import sys\n"
        "import factory.evaluate.metrics, factory.evaluate.fairness, factory.evaluate.similarity\n"
        "heavy = ('torch', 'transformers', 'fairlearn', 'sklearn', 'rouge_score')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
