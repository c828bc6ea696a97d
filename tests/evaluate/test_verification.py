"""Model answers through the generation verifiers: claims per kind and full verification."""

from __future__ import annotations

import pytest

from factory.dataset import read_manifest, read_split
from factory.evaluate.verification import claim_faithfulness, verification
from factory.output import parse_output
from factory.pipeline.run import generate
from factory.recipe import load_recipe, parse_recipe
from factory.verify.case import CaseVerifier
from factory.verify.claims import CLAIM_KINDS


@pytest.fixture(scope="module")
def lending(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verification")
    (folder / "recipe.yaml").write_text(
        "name: v-lending\ndomain: lending\ndescription: verification data\n"
        "profiles: {count: 100, seed: 3, shard_size: 100}\n"
    )
    generate(load_recipe(folder / "recipe.yaml"), folder / "out")
    out = folder / "out"
    recipe = parse_recipe(read_manifest(out)["recipe"]["content"], source="manifest.json")
    rows = list(read_split(out, "train").head(6).iter_rows(named=True))
    return recipe, rows


def _inputs(rows, answer):
    answers = [answer(row) for row in rows]
    prompts = [row["messages"][1]["content"] for row in rows]
    return answers, prompts, [row["id"] for row in rows]


def test_a_name_the_prompt_hides_fails_identity_and_verification(lending):
    recipe, rows = lending
    verifier = CaseVerifier(recipe)

    def named(row):
        name = f"{row['first_name']} {row['last_name']}"
        return row["messages"][2]["content"].replace(
            "</reasoning>", f"{name} applied.\n</reasoning>"
        )

    answers, prompts, ids = _inputs(rows, named)
    parsed = [parse_output(a) for a in answers]
    claims = claim_faithfulness(verifier, parsed, rows, prompts, ids)
    assert claims is not None and list(claims.kinds) == list(CLAIM_KINDS)
    assert claims.kinds["identity"].answers.successes == 6 and claims.kinds["identity"].claims >= 6
    assert claims.faithful.successes == 0 and claims.failures_per_answer.value >= 1
    assert claims.samples[0].kind == "identity" and claims.samples[0].id == rows[0]["id"]
    assert rows[0]["first_name"] in claims.samples[0].sentence
    verified = verification(verifier, answers, rows, prompts)
    assert verified.verified.successes == 0 and verified.rejected_by == {"claims": 6}


def test_answers_that_do_not_parse_are_left_out_of_the_claims(lending):
    recipe, rows = lending
    verifier = CaseVerifier(recipe)
    answers, prompts, ids = _inputs(rows, lambda row: "The applicant is married.")
    parsed = [parse_output(a) for a in answers]
    claims = claim_faithfulness(verifier, parsed, rows, prompts, ids)
    assert claims is not None and claims.unread == 6 and claims.faithful.n == 0
    assert claims.faithful.value is None  # no answers read: no rate, never a perfect score
    verified = verification(verifier, answers, rows, prompts)
    assert verified.verified.value == 0.0 and verified.rejected_by == {"format": 6}
    with pytest.raises(ValueError, match="one of each per example"):
        claim_faithfulness(verifier, parsed[:2], rows, prompts, ids)


def test_a_domain_without_a_rule_table_has_no_claims():
    recipe = parse_recipe({"name": "kq", "domain": "knowledge", "description": "questions"})
    assert claim_faithfulness(CaseVerifier(recipe), [], [], [], []) is None
