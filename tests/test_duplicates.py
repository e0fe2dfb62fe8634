"""Copies of one story: found at index time, cited once with "also in", kept apart from updated versions."""

import json

from typer.testing import CliRunner

from qa.cli import app
from qa.ingest.duplicates import copy_groups, fingerprint
from tests.conftest import SEEDS

STORY = (SEEDS / "000_7e63e6485bed1ddb.txt").read_text(encoding="utf-8")
OTHER = (SEEDS / "004_cffa3cfd4d8230b1.txt").read_text(encoding="utf-8")


def syndicated(text: str) -> str:
    """The story as another outlet runs it: its own headline and byline, the last paragraph cut."""
    lines = text.splitlines()
    return "\n".join(["Seoul seeks US backing for inter-Korean projects", "By wire staff", *lines[:-1]]) + "\n"


def updated(text: str) -> str:
    """A later version: the same opening, then half the paragraphs rewritten with other facts."""
    lines = text.splitlines()
    rewritten = [
        f"Officials said on Wednesday that talk number {i} of the follow-up session ended without an agreement."
        for i in range(len(lines) // 2)
    ]
    return "\n".join([*lines[: len(lines) - len(rewritten)], *rewritten]) + "\n"


def test_identical_and_syndicated_copies_form_one_group_and_other_stories_stay_apart():
    fingerprints = {
        "story": fingerprint(STORY),
        "saved-twice": fingerprint(STORY),
        "wire": fingerprint(syndicated(STORY)),
        "later-version": fingerprint(updated(STORY)),
        "other": fingerprint(OTHER),
    }
    assert (fingerprints["story"].values == fingerprints["saved-twice"].values).all()
    assert copy_groups(fingerprints) == {"saved-twice": "saved-twice", "story": "saved-twice", "wire": "saved-twice"}


def test_a_story_saved_three_times_is_cited_once_with_also_in(tmp_path, seed_copy):
    (seed_copy / "saved-again.txt").write_text(STORY, encoding="utf-8")
    (seed_copy / "wire-copy.txt").write_text(syndicated(STORY), encoding="utf-8")
    index = str(tmp_path / "index")
    runner = CliRunner()
    asked = runner.invoke(
        app, ["ask", "Who did Lee In-young meet?", "--corpus", str(seed_copy), "--index", index, "--json", "-q"]
    )
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.output)
    cited = [" ".join(c["sentence"].split()) for c in answer["citations"]]
    assert cited and len(cited) == len(set(cited)), cited  # one sentence, however many copies hold it
    assert "Harry Harris" in cited[0]
    first = answer["citations"][0]
    copies = {"000_7e63e6485bed1ddb", "saved-again", "wire-copy"}
    assert first["article_id"] in copies
    assert {p.rsplit("/", 1)[1].removesuffix(".txt") for p in first["also_in"]} == copies - {first["article_id"]}
    story_passages = [p["text"] for p in answer["passages"] if p["article_id"] in copies]
    assert len(story_passages) == len(set(story_passages))  # no passage repeated by another copy

    text = runner.invoke(app, ["ask", "Who did Lee In-young meet?", "--corpus", str(seed_copy), "--index", index])
    assert "also in: " in text.output
    info = runner.invoke(app, ["info", "--corpus", str(seed_copy), "--index", index, "--json"])
    assert json.loads(info.output)["copies"] == 3

    (seed_copy / "saved-again.txt").unlink()
    (seed_copy / "wire-copy.txt").unlink()
    assert runner.invoke(app, ["index", str(seed_copy), "--index", index, "-q"]).exit_code == 0
    alone = json.loads(
        runner.invoke(
            app, ["ask", "Who did Lee In-young meet?", "--corpus", str(seed_copy), "--index", index, "--json"]
        ).output
    )
    assert alone["citations"][0]["also_in"] == []


def test_groups_after_an_update_equal_the_full_computation():
    """Random updates (articles added, changed, removed) of a corpus full of copies: the groups computed from
    the previous ones and the fresh articles are those computed from scratch."""
    import random

    rng = random.Random(3)
    sentences = [s for text in (STORY, OTHER) for s in text.replace("\n", " ").split(". ") if len(s) > 30]

    def article() -> str:
        body = rng.sample(sentences, rng.randint(6, min(14, len(sentences))))
        return ". ".join(body) + "."

    texts = {f"a{i:03d}": article() for i in range(40)}
    for i in range(15):  # copies: the same text, a wire version, a trimmed one
        source = texts[rng.choice(sorted(texts))]
        texts[f"c{i:03d}"] = rng.choice([source, syndicated(source), "\n".join(source.split(". ")[:-2])])
    fingerprints = {key: fingerprint(text) for key, text in texts.items()}
    groups = copy_groups(fingerprints)
    assert groups  # the corpus does hold copies
    for _ in range(12):
        keys = sorted(fingerprints)
        for key in rng.sample(keys, 3):
            del fingerprints[key]
        fresh = set()
        for key in rng.sample(sorted(fingerprints), 2):  # changed: another text, or a copy of another article
            fingerprints[key] = fingerprint(rng.choice([article(), texts[rng.choice(keys)]]))
            fresh.add(key)
        for i in range(3):
            key = f"n{len(texts)}-{i}"
            texts[key] = rng.choice([article(), texts[rng.choice(keys)], syndicated(texts[rng.choice(keys)])])
            fingerprints[key] = fingerprint(texts[key])
            fresh.add(key)
        updated = copy_groups(fingerprints, groups, fresh)
        assert updated == copy_groups(fingerprints)
        groups = updated
