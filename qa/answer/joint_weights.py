"""The answer step's abstention when the reader has read (qa/answer/choose.py), by
`python -m qa.eval.fit_joint --write`. Do not edit by hand.

A logistic model over JOINT_FEATURES: the feature model's log-odds that the articles answer and the reader's logit
of the sentence citeqa would cite. Fitted on the training questions of the reader's validation documents only;
MANIFEST says on what, against which feature weights and reader, and how well out of fold.
"""

JOINT_WEIGHTS = {
    "feature_logit": 1.055,
    "reader_logit": 0.255,
}
JOINT_BIAS = 1.065
JOINT_WEIGHTS_BM25 = {
    "feature_logit": 0.932,
    "reader_logit": 0.334,
}
JOINT_BIAS_BM25 = 0.867
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
        "sets": [
            "new_wiki",
            "nq",
            "reddit",
            "amazon_reviews",
        ],
        "held_out": "the reader's validation documents",
        "dense": {
            "answerable": 1207,
            "unanswerable": 1342,
        },
        "bm25": {
            "answerable": 1206,
            "unanswerable": 1343,
        },
    },
    "settings": {
        "per_source": 100000,
        "seed": 7,
        "l2": 0.0001,
        "folds": 5,
    },
    "fitted_against": {
        "qa/answer/weights.py": "8152dc9da3013955dacae11e8dd8190d7def530499f403f5024f9dfccd50db9e",
        "qa/reader/model/manifest.json": "2bb6e1289cde057152ff4b53455813f5c1b24ad7bdbd1c69c5244316202b67e5",
    },
    "commit": "acf37158e096c6589ea83491e5bea964d33566a3-dirty",
    "out_of_fold": {
        "dense": [
            {
                "threshold": 0.3,
                "answered": 0.9072,
                "right": 0.6628,
                "abstain_recall": 0.6297,
                "abstain_precision": 0.883,
            },
            {
                "threshold": 0.5,
                "answered": 0.802,
                "right": 0.6147,
                "abstain_recall": 0.8018,
                "abstain_precision": 0.8183,
            },
            {
                "threshold": 0.7,
                "answered": 0.6454,
                "right": 0.5311,
                "abstain_recall": 0.9307,
                "abstain_precision": 0.7448,
            },
        ],
        "bm25": [
            {
                "threshold": 0.3,
                "answered": 0.9088,
                "right": 0.6526,
                "abstain_recall": 0.5838,
                "abstain_precision": 0.877,
            },
            {
                "threshold": 0.5,
                "answered": 0.7927,
                "right": 0.602,
                "abstain_recall": 0.764,
                "abstain_precision": 0.8041,
            },
            {
                "threshold": 0.7,
                "answered": 0.5896,
                "right": 0.4925,
                "abstain_recall": 0.9114,
                "abstain_precision": 0.712,
            },
        ],
    },
}
