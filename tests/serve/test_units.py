"""The pure parts of serving: the derived case model, the decision's probability, the PII
policy, the credit report's extraction, and the vLLM command line."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from factory.domains import get_domain
from factory.serve.answer import decision_probability
from factory.serve.audit import PiiPolicy
from factory.serve.backends import Completion, vllm_command
from factory.serve.case import case_model
from tests.serve.conftest import make_recipe, sample_cases


def test_the_case_model_follows_the_domain_profile_columns():
    recipe = make_recipe("fraud")
    model = case_model(recipe)
    fields = model.model_fields
    assert "fraud_pattern" not in fields and "is_fraud_latent" not in fields  # latent truth
    assert not fields["transaction_id"].is_required()  # the id is the caller's, optional
    case = sample_cases(recipe, 1)[0]
    assert model.model_validate(case)
    for change, field in (({"amount": "12.50"}, "amount"), ({"new_device": 1}, "new_device"),
                          ({"channel": "carrier_pigeon"}, "channel"), ({"hour": -1}, "hour"),
                          ({"amount": math.inf}, "amount")):  # fmt: skip
        with pytest.raises(ValidationError) as error:
            model.model_validate({**case, **change})
        assert error.value.errors()[0]["loc"] == (field,)


def test_nullable_columns_may_be_null_and_others_may_not():
    recipe = make_recipe("lending")
    case = sample_cases(recipe, 1)[0]
    model = case_model(recipe)
    assert model.model_validate({**case, "collateral_value": None})
    with pytest.raises(ValidationError):
        model.model_validate({**case, "credit_score": None})


def _tokens(*pieces: tuple[str, float]) -> Completion:
    return Completion("".join(p for p, _ in pieces), tuple(pieces))


def test_decision_probability_multiplies_the_label_tokens_only():
    completion = _tokens(
        ("<reasoning>x</reasoning>\n<dec", math.log(0.5)), ("ision>", 0.0),
        ("de", math.log(0.8)), ("ny", math.log(0.9)), ("</decision>", math.log(0.1)),
    )  # fmt: skip
    assert decision_probability(completion) == pytest.approx(0.72)
    assert decision_probability(Completion("<decision>deny</decision>")) is None  # no logprobs
    assert decision_probability(_tokens(("no decision here", 0.0))) is None


def test_pii_policy_redacts_hashes_or_stores():
    case = {"first_name": "Ada", "credit_score": 700}
    redact = PiiPolicy("redact", ("first_name",), salt="s")
    hashed = PiiPolicy("hash", ("first_name",), salt="s")
    other_salt = PiiPolicy("hash", ("first_name",), salt="t")
    assert redact.case(case) == {"first_name": "[REDACTED]", "credit_score": 700}
    assert hashed.case(case)["first_name"].startswith("sha256:")
    assert hashed.case(case) == hashed.case(dict(case))  # one person's records link
    assert hashed.case(case) != other_salt.case(case)
    assert PiiPolicy("store", ("first_name",), salt="s").case(case) == case
    assert redact.text("mail ada@example.com now") == "mail [REDACTED] now"


def test_credit_report_extraction_keeps_the_lists_not_the_paragraph():
    extract = get_domain("credit_report").tasks["summary"].polish.extract
    answer = "Good:\n- Utilization fell.\nBad:\n- None\n\nYour score rose 10 points."
    assert extract(answer) == "Good:\n- Utilization fell.\nBad:\n- None"
    assert get_domain("lending").tasks["decision_cot"].polish is None


def test_vllm_command_uses_the_cpu_settings_and_recipe_options():
    command = vllm_command("m", "fine-tuned", 8001, {"max_model_len": 4096}, cpu=True)
    assert command[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert "--enforce-eager" in command and "--no-enable-chunked-prefill" in command
    assert command[command.index("--dtype") + 1] == "float32"
    assert command[command.index("--max-model-len") + 1] == "4096"
    gpu = vllm_command("m", "fine-tuned", 8001, {}, cpu=False)
    assert "--enforce-eager" not in gpu and "--dtype" not in gpu
