"""Evaluation of a fine-tuned model against the engine that labelled its dataset.

metrics     parse rate, decision accuracy / macro-F1 / confusion matrix, fraud error rates,
            reason agreement, numbers faithfulness; every rate with its sample size and a
            Wilson 95% interval; results shaped for the Hub's model-index.
fairness    approval (or allow) rate per protected group, adverse impact ratio and demographic
            parity difference, the counterfactual flip test, and protected-attribute mentions.
similarity  ROUGE-L and BERTScore (all-MiniLM-L6-v2, offline) of summaries against references.
"""
