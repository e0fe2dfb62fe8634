"""Weights of the answer model (qa/answer/choose.py), written by `bench/fit_answer.py --write`.

Do not edit by hand: change the features or the data, then fit again.

Ranking: a listwise logistic model over each question's candidate sentences (qa.answer.choose.FEATURES). Abstention:
a logistic model over the best candidate (qa.answer.choose.ANSWERABLE_FEATURES). Fitted on the SQuAD dev half (with
each question also asked without its own article, as an unanswerable one) and the BBC dev questions.
Settings: listwise ranking, 5 folds, BBC weight 10.0, L2 0.1, traps False
"""

WEIGHTS = {
    "cosine": 1.579,
    "cosine_gap": 1.579,
    "predicate_cosine": 5.581,
    "previous_cosine": 0.019,
    "topicality": -1.824,
    "lexical": -0.089,
    "passage": 4.833,
    "coverage": 4.611,
    "predicate": 0.191,
    "context_coverage": 3.631,
    "constraints": 0.809,
    "type_match": 1.079,
    "type_other": 0.442,
    "type_missing": -1.521,
    "focus": 0.59,
    "novelty": 2.285,
    "headline": -3.029,
    "lead": 0.012,
    "length": -0.13,
}
ANSWERABLE_WEIGHTS = {
    "probability": -0.089,
    "cosine": 9.541,
    "predicate_cosine": 1.771,
    "coverage": -1.409,
    "context_coverage": 7.568,
    "constraints": 0.301,
    "best_constraints": 1.319,
    "typed_match": -0.097,
    "typed_missing": -0.979,
    "years": 3.865,
}
ANSWERABLE_BIAS = -13.366
WEIGHTS_BM25 = {
    "lexical": 0.739,
    "passage": 7.318,
    "coverage": 3.831,
    "predicate": 1.613,
    "context_coverage": 3.079,
    "constraints": 0.759,
    "type_match": 1.282,
    "type_other": 0.368,
    "type_missing": -1.65,
    "focus": 0.537,
    "novelty": 0.471,
    "headline": -4.06,
    "lead": -0.157,
    "length": -0.057,
}
ANSWERABLE_WEIGHTS_BM25 = {
    "probability": 0.758,
    "cosine": 0.0,
    "predicate_cosine": 0.0,
    "coverage": 1.056,
    "context_coverage": 6.717,
    "constraints": 0.327,
    "best_constraints": 2.239,
    "typed_match": 0.186,
    "typed_missing": -0.372,
    "years": 3.098,
}
ANSWERABLE_BIAS_BM25 = -9.257
