"""The knowledge domain's embedded default: a seeded fabricated company, its handbook and Q&A."""

from __future__ import annotations

import random

from factory.domains.knowledge.company import _NAMES
from factory.domains.knowledge.handbook import build_company_corpus
from factory.output import parse_output
from factory.recipe import parse_recipe
from factory.synth import Shard, labelled_shard
from factory.verify import verify_example


def _recipe(seed: int = 7, count: int = 500):
    return parse_recipe(
        {"name": "k", "domain": "knowledge", "description": "d",
         "profiles": {"count": count, "seed": seed}}
    )  # fmt: skip


def test_the_company_is_seeded_fictional_and_rendered_into_a_handbook():
    one, again, other = build_company_corpus(3), build_company_corpus(3), build_company_corpus(4)
    assert one == again and one.documents != other.documents
    assert one.company.split()[0] in _NAMES
    assert "fictional" in one.documents["about.md"]
    assert set(one.documents) == {
        "about.md", "accounts.md", "cards.md", "loans.md", "fee-schedule.md", "service.md",
        "policies.md", "faq.md",
    }  # fmt: skip
    assert "| Account | Monthly fee |" in one.documents["fee-schedule.md"]
    headings = {p.heading for p in one.passages}
    assert {"Leadership", "History", "Regulatory registrations", "Disputes", "Overdraft",
            "Complaints", "Privacy", "Phone support"} <= headings  # fmt: skip


def test_questions_cover_every_phrasing_kind_and_abstentions_are_really_absent():
    corpus = build_company_corpus(7)
    kinds = {item.kind for item in corpus.items}
    assert {"direct", "can_i", "comparative", "multi_fact", "unanswerable"} <= kinds
    ids = {p.id for p in corpus.passages}
    text = "\n".join(p.text for p in corpus.passages).lower()
    for item in corpus.items:
        assert set(item.sources) <= ids
        assert item.answerable == (item.kind != "unanswerable")
        assert not any(term in text for term in item.absent)
    phrasings = [i for i in corpus.items if i.fact == "Everyday Checking:monthly_fee"]
    assert len({i.question for i in phrasings}) >= 5


def test_rows_cycle_through_the_questions_with_the_unanswerable_share():
    rows = labelled_shard(_recipe(), Shard(0, 0, 500))
    assert rows["question_id"].n_unique() == 500
    share = (rows["decision"] == "not_in_documents").mean()
    assert abs(share - 0.12) < 0.01
    assert rows["question"].n_unique() > 480  # as many distinct questions as rows, nearly


def test_template_answers_cite_their_section_and_pass_every_verifier_with_grounding():
    for seed in (0, 11):
        recipe = _recipe(seed, 600)
        domain = recipe.domain_impl
        rows = labelled_shard(recipe, Shard(0, 0, 600)).to_dicts()
        for index, row in enumerate(rows):
            text = domain.tasks["qa"].write(row, recipe.policy, random.Random(index))
            verdict = verify_example(
                text, decision=row["decision"], reason_codes=row["reason_codes"],
                known_codes=domain.reason_texts, facts=domain.facts(row, recipe.policy),
                checks=("format", "decision", "reasons", "pii", "numbers", "grounding"),
                number_tolerance=0.0, grounding=domain.grounding(row),
            )  # fmt: skip
            assert verdict.ok, (row["question"], verdict)
            answer = parse_output(text).answer or ""
            if row["sources"]:
                assert f"[{row['sources'][0]}]" in answer
            else:
                assert answer.startswith("The documents do not say")
