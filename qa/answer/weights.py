"""Answer model weights (qa/answer/choose.py), by `python -m qa.eval.fit_answer --write`.

Do not edit by hand: change the features or the data, then fit again.

Ranking: a listwise logistic model over each question's candidate sentences (qa.answer.choose.FEATURES). Abstention:
a logistic model over the best candidate (qa.answer.choose.ANSWERABLE_FEATURES). Fitted on training data only
(../shared/train), each question also asked without its own article and moved to another year or name; MANIFEST
says on what, how, and how well out of fold.
"""

WEIGHTS = {
    "cosine": 1.709,
    "cosine_gap": 1.709,
    "predicate_cosine": 0.895,
    "previous_cosine": 0.084,
    "topicality": -1.192,
    "lexical": 0.231,
    "passage": 6.992,
    "coverage": 0.463,
    "predicate": 0.812,
    "context_coverage": 3.093,
    "constraints": 1.258,
    "type_match": 1.06,
    "type_other": 0.077,
    "type_missing": -1.137,
    "focus": 0.454,
    "novelty": -0.185,
    "headline": -3.31,
    "lead": 0.704,
    "length": 0.65,
}
ANSWERABLE_WEIGHTS = {
    "probability": 1.458,
    "cosine": 3.364,
    "predicate_cosine": 0.773,
    "coverage": -0.729,
    "context_coverage": 3.113,
    "constraints": 1.072,
    "best_constraints": 1.638,
    "typed_match": -0.136,
    "typed_missing": -0.083,
    "years": 1.736,
}
ANSWERABLE_BIAS = -8.435
WEIGHTS_BM25 = {
    "lexical": 0.827,
    "passage": 8.315,
    "coverage": 0.955,
    "predicate": 0.913,
    "context_coverage": 2.815,
    "constraints": 1.226,
    "type_match": 1.131,
    "type_other": 0.072,
    "type_missing": -1.203,
    "focus": 0.443,
    "novelty": -1.011,
    "headline": -3.977,
    "lead": 0.447,
    "length": 0.678,
}
ANSWERABLE_WEIGHTS_BM25 = {
    "probability": 2.2,
    "cosine": 0.0,
    "predicate_cosine": 0.0,
    "coverage": -0.179,
    "context_coverage": 2.766,
    "constraints": 1.145,
    "best_constraints": 1.745,
    "typed_match": -0.16,
    "typed_missing": -0.0,
    "years": 1.47,
}
ANSWERABLE_BIAS_BM25 = -6.682
MANIFEST = {
    "data": {
        "nq-qed/qed-train.jsonl": "afe9fc5ad4a6c9bcb2bb7681dda6f72e6ba50eebe2318bc4080e9a4a8d3f465b",
        "squad-train-du2017/doclist-test.txt": "2a2b79a476e04276f2fdecbbb991db2ee2a712ecc4ef2f02629d46681f8bd108",
        "squad-train-du2017/src-test.txt": "5714e36b9f3ef884f4e109e876f4e507d61f58a1241b4fb0403866dfdeef315d",
        "squad-train-du2017/tgt-test.txt": "e75710df557c2432925c8f2ca17e9b490235ce3c647c857fceaea6c401203a76",
        "squadshifts/amazon_reviews_v1.0.json": "9db7bdee84a91f0fb80b9e74f365042fbbb217cb8e0a7e73bb071245472589b6",
        "squadshifts/new_wiki_v1.0.json": "1d50a0ca4cdab88d038b52ea8a2d0510af6038d7f41a0a256b9659237769d0ee",
        "squadshifts/reddit_v1.0.json": "b4ac346dbf1816fdec80fdcf91d06a4b754fa51e47960fa8614a94f37ea42a4b",
        "tweetqa/train.json": "59f9435a280238294fa852cb694e14705fc44e63970c9494f5b6dc5544e44e74",
    },
    "questions": {
        "answerable": 6000,
        "unanswerable": 7108,
        "sets": [
            "new_wiki",
            "nq",
            "reddit",
            "amazon_reviews",
        ],
    },
    "settings": {
        "per_source": 1500,
        "seed": 7,
        "l2": 0.0001,
        "folds": 5,
    },
    "commit": "7923610c300518bb30938e3611508a2c311eb224",
    "out_of_fold": {
        "dense": {
            "hit_at_1": 0.5272,
            "threshold": 0.3,
            "abstain_recall": 0.4764,
            "abstain_precision": 0.8678,
        },
        "bm25": {
            "hit_at_1": 0.5168,
            "threshold": 0.35,
            "abstain_recall": 0.4899,
            "abstain_precision": 0.83,
        },
    },
}
