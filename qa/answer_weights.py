"""Weights of the answer model (qa/choose.py), written by `bench/fit_answer.py --write`.

Do not edit by hand: change the features or the data, then fit again.

Ranking: a listwise logistic model over each question's candidate sentences (qa.choose.FEATURES). Abstention:
a logistic model over the best candidate (qa.choose.ANSWERABLE_FEATURES). Fitted on the SQuAD dev half (with
each question also asked without its own article, as an unanswerable one) and the BBC dev questions.
Settings: listwise ranking, 5 folds, BBC weight 10.0, L2 0.1, traps False
"""

WEIGHTS = {
    "cosine": 1.565,
    "cosine_gap": 1.565,
    "predicate_cosine": 5.598,
    "previous_cosine": -0.007,
    "topicality": -1.808,
    "lexical": -0.079,
    "passage": 4.857,
    "coverage": 4.617,
    "predicate": 0.156,
    "context_coverage": 3.637,
    "constraints": 0.766,
    "type_match": 1.093,
    "type_other": 0.353,
    "type_missing": -1.447,
    "focus": 0.611,
    "novelty": 2.278,
    "headline": -3.024,
    "lead": 0.017,
    "length": -0.122,
}
ANSWERABLE_WEIGHTS = {
    "probability": -0.198,
    "cosine": 9.439,
    "predicate_cosine": 1.851,
    "coverage": -1.559,
    "context_coverage": 7.773,
    "constraints": 0.237,
    "best_constraints": 1.349,
    "typed_match": -0.166,
    "typed_missing": -0.643,
    "years": 3.798,
}
ANSWERABLE_BIAS = -13.226
WEIGHTS_BM25 = {
    "lexical": 0.741,
    "passage": 7.326,
    "coverage": 3.832,
    "predicate": 1.599,
    "context_coverage": 3.066,
    "constraints": 0.754,
    "type_match": 1.293,
    "type_other": 0.262,
    "type_missing": -1.555,
    "focus": 0.555,
    "novelty": 0.453,
    "headline": -4.035,
    "lead": -0.151,
    "length": -0.049,
}
ANSWERABLE_WEIGHTS_BM25 = {
    "probability": 0.594,
    "cosine": 0.0,
    "predicate_cosine": 0.0,
    "coverage": 1.256,
    "context_coverage": 6.672,
    "constraints": 0.162,
    "best_constraints": 2.271,
    "typed_match": 0.116,
    "typed_missing": -0.135,
    "years": 3.089,
}
ANSWERABLE_BIAS_BM25 = -9.112
