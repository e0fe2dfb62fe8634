"""Weights of the answer model (qa/choose.py), written by `bench/fit_answer.py --write`.

Do not edit by hand: change the features or the data, then fit again.

Ranking: a listwise logistic model over each question's candidate sentences (qa.choose.FEATURES). Abstention:
a logistic model over the best candidate (qa.choose.ANSWERABLE_FEATURES). Fitted on the SQuAD dev half (with
each question also asked without its own article, as an unanswerable one) and the BBC dev questions.
Settings: listwise ranking, 5 folds, BBC weight 10.0, L2 0.1, traps False
"""

WEIGHTS = {
    "cosine": 1.21,
    "cosine_gap": 1.21,
    "predicate_cosine": 6.017,
    "previous_cosine": -0.224,
    "lexical": -0.125,
    "passage": 4.797,
    "coverage": 4.654,
    "predicate": 0.068,
    "context_coverage": 3.992,
    "constraints": 0.76,
    "type_match": 1.194,
    "type_other": 0.357,
    "type_missing": -1.551,
    "focus": 0.558,
    "novelty": 2.464,
    "headline": -3.762,
    "lead": -0.073,
    "length": -0.166,
}
ANSWERABLE_WEIGHTS = {
    "probability": -0.163,
    "cosine": 9.254,
    "predicate_cosine": 2.001,
    "coverage": -0.978,
    "context_coverage": 7.399,
    "constraints": 0.213,
    "best_constraints": 1.451,
    "typed_match": -0.207,
    "typed_missing": -1.374,
    "years": 3.767,
}
ANSWERABLE_BIAS = -13.315
WEIGHTS_BM25 = {
    "lexical": 0.686,
    "passage": 7.112,
    "coverage": 3.915,
    "predicate": 1.582,
    "context_coverage": 3.168,
    "constraints": 0.697,
    "type_match": 1.376,
    "type_other": 0.282,
    "type_missing": -1.658,
    "focus": 0.472,
    "novelty": 0.482,
    "headline": -4.014,
    "lead": -0.182,
    "length": -0.033,
}
ANSWERABLE_WEIGHTS_BM25 = {
    "probability": 0.645,
    "cosine": 0.0,
    "predicate_cosine": 0.0,
    "coverage": 0.974,
    "context_coverage": 6.881,
    "constraints": 0.176,
    "best_constraints": 2.376,
    "typed_match": 0.11,
    "typed_missing": -1.04,
    "years": 3.063,
}
ANSWERABLE_BIAS_BM25 = -9.181
