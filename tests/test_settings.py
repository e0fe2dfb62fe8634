"""Settings are one frozen, validated object; follow-up detection decides when a question leans on the last."""

import dataclasses

import numpy as np
import pytest

from qa.errors import UsageError
from qa.retrieve.followup import Turn, is_follow_up, mixed_vector, previous_turn, source_boost
from qa.settings import Settings


def test_settings_are_frozen_and_validated():
    settings = Settings(mode="bm25", k=10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.mode = "dense"
    for bad in (
        {"mode": "fuzzy"},
        {"fusion": "max"},
        {"dense_weight": 1.5},
        {"k": 0},
        {"answer_passages": 0},
        {"threads": 0},
    ):
        with pytest.raises(UsageError):
            Settings(**bad)


def test_settings_reach_retrieval(assistant):
    from qa.pipeline import Assistant

    bm25 = Assistant(index_dir=assistant.store.location, settings=Settings(mode="bm25", k=2))
    retrieval = bm25.search("Who did Lee In-young meet?")
    assert retrieval.mode == "bm25" and len(retrieval.passages) == 2 and retrieval.vector is None
    assert bm25.search("Who did Lee In-young meet?", k=1, mode="dense").mode == "dense"  # per-question override
    bm25.close()


@pytest.mark.parametrize(
    ("question", "follows"),
    [
        ("What did he say about sanctions?", True),
        ("And then?", True),
        ("Where did Pompeo give a speech on Monday?", False),
    ],
)
def test_follow_up_detection(question, follows):
    assert is_follow_up(question) is follows
    history = (Turn("Who met Harris?", ("a1",)),)
    assert (previous_turn(question, history) is not None) is follows


def test_a_follow_up_leans_on_the_previous_turn():
    vector, previous = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    mixed = mixed_vector(vector, previous)
    assert np.isclose(np.linalg.norm(mixed), 1.0) and mixed[0] > mixed[1] > 0
    assert source_boost(Turn("q", ("a1", "a2"))) == {"a1": 0.15, "a2": 0.15} and source_boost(None) is None
