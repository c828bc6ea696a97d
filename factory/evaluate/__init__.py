"""Evaluation of a fine-tuned model against the engine that labelled its dataset.

metrics     parse rate, decision accuracy / macro-F1 / confusion matrix, fraud error rates,
            reason agreement, numbers faithfulness; every rate with its sample size and a
            Wilson 95% interval; results shaped for the Hub's model-index.
verification
            the generation verifiers on each answer: claim faithfulness per claim kind, and the
            share of answers every verifier keeps.
fairness    approval (or allow) rate per protected group, adverse impact ratio and demographic
            parity difference, the flip count, and protected-attribute mentions.
counterfactual
            the flip test's cases: the fields a prompt shows and the policy does not read,
            swapped from another row; the engine labels them again.
run         one evaluation: the model, its baseline and the models compared with it.
similarity  ROUGE-L and BERTScore (all-MiniLM-L6-v2, offline) of summaries against references.
"""
