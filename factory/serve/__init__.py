"""Serving a fine-tuned model: verified answers, two-step polish, human review, audit, drift.

Modules::

    case.py      the request model derived from the domain's profile columns
    answer.py    label -> prompt -> model -> verify -> (polish) -> ok | needs_review
    backends.py  OpenAI-compatible clients; vLLM's own server started and stopped
    audit.py     the hash-chained SQLite log (WAL), PII handling, chain verification
    review.py    the human review queue and its export as training examples
    service.py   validation, answers and records for every request; app.py its HTTP face
    predict.py   batch answers through the same path; drift.py the drift monitor
"""
