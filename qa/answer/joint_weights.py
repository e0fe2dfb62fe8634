"""The answer step's abstention when the reader has read (qa/answer/choose.py), by
`python -m qa.eval.fit_joint --write`. Do not edit by hand.

A logistic model over JOINT_FEATURES: the feature model's log-odds that the articles answer and the reader's logit
of the sentence citeqa would cite. Fitted on the training questions of the reader's validation documents only;
MANIFEST says on what, against which feature weights and reader, and how well out of fold.
"""

JOINT_WEIGHTS = {
    "feature_logit": 1.054,
    "reader_logit": 0.257,
}
JOINT_BIAS = 1.033
JOINT_WEIGHTS_BM25 = {
    "feature_logit": 0.93,
    "reader_logit": 0.343,
}
JOINT_BIAS_BM25 = 0.831
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
        "qa/reader/model/manifest.json": "de22ba439c843d2a68d52b49e47ee78b596759e2a245a7ffba98d2bf3140273d",
    },
    "commit": "d8dca057cc204af9ffd3b94b7d1f69f1bd3603f8-dirty",
    "out_of_fold": {
        "dense": [
            {
                "threshold": 0.3,
                "answered": 0.9039,
                "right": 0.6537,
                "abstain_recall": 0.6356,
                "abstain_precision": 0.8803,
            },
            {
                "threshold": 0.5,
                "answered": 0.7962,
                "right": 0.6073,
                "abstain_recall": 0.8048,
                "abstain_precision": 0.8145,
            },
            {
                "threshold": 0.7,
                "answered": 0.6446,
                "right": 0.5261,
                "abstain_recall": 0.9285,
                "abstain_precision": 0.7439,
            },
        ],
        "bm25": [
            {
                "threshold": 0.3,
                "answered": 0.908,
                "right": 0.6476,
                "abstain_recall": 0.5778,
                "abstain_precision": 0.8749,
            },
            {
                "threshold": 0.5,
                "answered": 0.8018,
                "right": 0.6012,
                "abstain_recall": 0.7655,
                "abstain_precision": 0.8114,
            },
            {
                "threshold": 0.7,
                "answered": 0.5829,
                "right": 0.4851,
                "abstain_recall": 0.9106,
                "abstain_precision": 0.7086,
            },
        ],
    },
}
