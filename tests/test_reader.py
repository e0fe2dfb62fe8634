"""The reader: the shipped model on constructed and seed text, its files' failures, and its training command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.reader.encoding import encode, join_context, load_tokenizer, span_tokens
from qa.reader.model import MODEL_DIR, Reader, ReaderError, context_text
from qa.reader.quantize import exact_on_this_cpu

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT.parent / "shared" / "train"

HEADLINE = "Shell to own 30% of $6bn Qatar gas project"
ARTICLE = [
    "Royal Dutch Shell has signed a deal with Qatar to build a $6bn plant that turns gas into liquid fuel.",
    "The plant, to be built at Ras Laffan, will produce 140,000 barrels a day from 2009.",
    "The UK-Dutch group will own 30% of the project, with Qatar Petroleum holding the rest.",
    "Shell's chief executive said the deal showed the firm's commitment to the Gulf state.",
]


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


def _read(reader: Reader, question: str) -> list[float]:
    contexts = [join_context(HEADLINE, ARTICLE[i - 1] if i else "") for i in range(len(ARTICLE))]
    return [r.probability for r in reader.read(question, ARTICLE, contexts)]


def test_the_shipped_model_is_small_and_described_by_its_manifest():
    manifest = json.loads((MODEL_DIR / "manifest.json").read_text())
    assert (MODEL_DIR / "reader.onnx").stat().st_size == manifest["bytes"] <= 30 * 2**20
    assert manifest["limit"] is None and manifest["max_steps"] is None  # the full run, not a test's tiny one
    assert set(manifest["data"]) >= {"nq-qed/qed-train.jsonl", "squadshifts/new_wiki_v1.0.json"}
    # The int8 ONNX file against the trained torch network on 200 validation questions (1,400 pairs), measured at
    # export: probabilities within 0.03 on average (0.016 for the first reader, 0.015 for the second) and 0.35 at
    # worst (0.22, then 0.31: the worst pair sits where the sigmoid is steepest, so it moves most from run to run),
    # the same best sentence for at least 95% of questions (97% both times).
    export = manifest["export"]
    assert export["probability_mean_difference"] <= 0.03 and export["probability_max_difference"] <= 0.35
    assert export["same_best_sentence"] >= 0.95
    # Per-token activation scales (qa.reader.quantize), against the network of the same int8 weights in float:
    # mean 0.003, worst 0.07, the same best sentence for 99.5% (one scale a tensor: 0.009, 0.29, 97.5%).
    assert manifest["activations"] == "per token"
    if "reexported" in manifest:  # exported again after training (python -m qa.reader.reexport); a retrained one is not
        against_weights = manifest["reexported"]["against_the_weights_network"]
        now, before = against_weights["after"], against_weights["before"]
        assert now["probability_mean_difference"] < before["probability_mean_difference"]


def _logits(reader: Reader, question: str) -> list[float]:
    contexts = [join_context(HEADLINE, ARTICLE[i - 1] if i else "") for i in range(len(ARTICLE))]
    return [r.logit for r in reader.read(question, ARTICLE, contexts)]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Where will the gas plant be built?", 1),
        ("How many barrels a day will the plant produce?", 1),
        ("When will the plant start producing?", 1),
        pytest.param(
            "What share of its $6bn Qatar project will Shell own?",
            2,
            marks=pytest.mark.xfail(strict=True, reason="known miss: the lead (logit -0.0) outranks the 30% (-1.4)"),
        ),
    ],
)
def test_the_sentence_that_states_the_fact_outranks_the_lead_and_the_entity(reader, question, answer):
    """The sentence stating the asked fact ranks first, by a clear margin (a logit of 1: no near-tie that another
    machine's int8 kernels could flip), above the lead and the sentences about the same plant and firm."""
    logits = _logits(reader, question)
    others = [z for i, z in enumerate(logits) if i != answer]
    assert logits[answer] >= max(others) + 1.0, logits


def test_a_fact_never_stated_about_a_mentioned_entity_scores_below_stated_ones(reader):
    """The article names Shell's chief executive but never says who it is, and never gives the plant's staff: no
    sentence is likely to answer (measured: 0.18 and 0.03 at most), unlike the stated facts (0.81 and 0.90)."""
    for question in ("What is the name of Shell's chief executive?", "How many people work at the Ras Laffan plant?"):
        assert max(_read(reader, question)) < 0.25, question
    for question in ("Where will the gas plant be built?", "How many barrels a day will the plant produce?"):
        assert max(_read(reader, question)) > 0.3, question


def test_a_sentences_reading_does_not_depend_on_the_others_read_with_it(reader):
    """A sentence's reading is its own: with one activation scale for a padded batch, a BBC dev candidate's
    probability had moved by up to 0.2 with its neighbours (qa.reader.quantize gives each token its own)."""
    question = "What share of the Qatar project will Shell own?"
    contexts = [join_context(HEADLINE, ARTICLE[i - 1] if i else "") for i in range(len(ARTICLE))]
    together = reader.read(question, ARTICLE, contexts)
    alone = [
        reader.read(question, [sentence], [context])[0] for sentence, context in zip(ARTICLE, contexts, strict=True)
    ]
    backwards = reader.read(question, ARTICLE[::-1], contexts[::-1])[::-1]
    one_thread = Reader(threads=1).read(question, ARTICLE, contexts)  # each sentence in a run of its own
    three_at_once = Reader(threads=3).read(question, ARTICLE, contexts)  # shares of the rows on pool threads
    for other in (alone, backwards, one_thread, three_at_once):
        assert [r.span for r in other] == [r.span for r in together]
        assert [r.logit for r in other] == pytest.approx([r.logit for r in together], abs=1e-5)


def test_the_readers_span_is_the_asked_expression(reader):
    sentence = ARTICLE[1]
    (reading,) = reader.read("How many barrels a day will the plant produce?", [sentence], [HEADLINE])
    assert "140,000" in sentence[reading.span[0] : reading.span[1]]


def test_context_is_the_headline_and_the_sentence_before():
    assert context_text(("Title", "First.", "Second."), headline=False) == "Title | Second."
    assert context_text(("Title", "Title"), headline=False) == "Title"  # the headline line is not repeated
    assert context_text(("Title",), headline=True) == ""


def test_encoding_keeps_the_sentence_whole_and_maps_spans_back():
    tokenizer = load_tokenizer(MODEL_DIR / "tokenizer.json")
    sentence = "The UK-Dutch group will own 30% of the project."
    encoded = encode(tokenizer, ["Who?"], [sentence], ["a long context " * 40])
    first, offsets = int(encoded.sentence_first[0]), encoded.offsets[0]
    start = sentence.index("30%")
    i, j = span_tokens(offsets, start, start + 3)
    assert sentence[offsets[i][0] : offsets[j][1]] == "30%"
    sep = tokenizer.token_to_id("[SEP]")
    assert encoded.input_ids[0, first + len(offsets)] == sep  # the whole sentence, then its context
    assert encoded.token_type_ids[0, first - 1] == 0 and encoded.token_type_ids[0, first] == 1


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "reader.onnx").unlink(), "missing (reader.onnx not found)"),
        (lambda d: (d / "reader.onnx").write_bytes((d / "reader.onnx").read_bytes()[:5000]), "damaged"),
        (lambda d: (d / "manifest.json").write_text("{"), "damaged (manifest.json"),
        (lambda d: (d / "manifest.json").unlink(), "missing (no manifest.json)"),
    ],
    ids=["no model", "truncated model", "bad manifest", "no manifest"],
)
def test_a_missing_or_damaged_model_is_one_line(tmp_path, damage, message):
    copy = tmp_path / "model"
    shutil.copytree(MODEL_DIR, copy)
    damage(copy)
    with pytest.raises(ReaderError) as raised:
        Reader(copy).read("Who?", ["A sentence."], [""])
    text = str(raised.value)
    assert message in text and "\n" not in text and "python -m qa.reader.train" in text


def test_the_saved_optimized_graph_reads_as_the_plain_model(tmp_path, monkeypatch):
    """A cold `ask` opens the reader from its optimized graph saved on first use (embeddings.onnx): the readings are
    those of a plain session of reader.onnx, an earlier reader's copy is removed, and a damaged saved copy is made
    again, never used."""
    import onnxruntime

    contexts = [join_context(HEADLINE, ARTICLE[i - 1] if i else "") for i in range(len(ARTICLE))]
    plain = Reader()
    # the file, or its unsigned weights where int8 saturates
    plain.__dict__["session"] = onnxruntime.InferenceSession(exact_on_this_cpu(MODEL_DIR / "reader.onnx"))
    expected = [r.logit for r in plain.read("What share will Shell own?", ARTICLE, contexts)]
    saved = tmp_path / "optimized-new"
    older = tmp_path / "optimized-old"  # an earlier reader's copy: removed when the new one saves its own
    older.mkdir()
    (older / "model.onnx").write_bytes(b"an older reader")
    monkeypatch.setattr(Reader, "_optimized_copy", lambda self: saved)
    for _ in range(2):  # the first saves the copy, the second loads it
        logits = [r.logit for r in Reader().read("What share will Shell own?", ARTICLE, contexts)]
        assert max(abs(a - b) for a, b in zip(logits, expected, strict=True)) < 1e-4
    assert sorted(p.name for p in saved.iterdir()) == ["model.onnx", "tokenizer.sha256", "weights.data"]
    assert not older.exists()
    (saved / "model.onnx").write_bytes(b"damaged")
    logits = [r.logit for r in Reader().read("What share will Shell own?", ARTICLE, contexts)]
    assert max(abs(a - b) for a, b in zip(logits, expected, strict=True)) < 1e-4
    assert (saved / "model.onnx").stat().st_size > len(b"damaged")  # made again


def test_the_reader_reads_with_the_encoders_tokenizer_when_it_is_its_own(tmp_path, monkeypatch, seed_index_dir):
    """A cold `ask` has loaded the encoder's tokenizer (its own file, written by another tool) before the reader
    reads: the reader takes it once it has found, on an earlier use, that its own tokenizer does the same to text,
    and reads exactly as with its own. Another tokenizer, one that truncates shorter than the reader keeps, or a
    tokenizer.json changed since, is not taken."""
    from embeddings.factory import load_embedder
    from qa.paths import cache_root

    encoder_tokenizer = load_embedder(export_root=cache_root() / "onnx").tokenizer  # exported with the seed index
    copy = tmp_path / "model"
    shutil.copytree(MODEL_DIR, copy)
    monkeypatch.setattr(Reader, "_optimized_copy", lambda self: tmp_path / "optimized")
    contexts = [join_context(HEADLINE, ARTICLE[i - 1] if i else "") for i in range(len(ARTICLE))]

    def reading(offered):
        reader = Reader(copy, loaded_tokenizer=lambda: offered)
        readings = reader.read("What share will Shell own?", ARTICLE, contexts)
        return reader.tokenizer, [(r.logit, r.span) for r in readings]

    own_tokenizer, own = reading(None)  # the first use finds its digest
    assert own_tokenizer is not encoder_tokenizer
    shared_tokenizer, shared = reading(encoder_tokenizer)
    assert shared_tokenizer is encoder_tokenizer and shared == own
    short = load_tokenizer(MODEL_DIR / "tokenizer.json")
    short.enable_truncation(16)
    assert reading(short)[0] is not short
    other = load_tokenizer(MODEL_DIR / "tokenizer.json")
    other.add_tokens(["citeqa-word"])
    assert reading(other)[0] is not other
    (copy / "tokenizer.json").write_bytes((copy / "tokenizer.json").read_bytes() + b" ")
    assert reading(encoder_tokenizer)[0] is not encoder_tokenizer


def test_a_damaged_model_is_one_line_from_the_cli(tmp_path, seed_index_dir):
    import subprocess
    import sys

    copy = tmp_path / "model"
    shutil.copytree(MODEL_DIR, copy)
    (copy / "reader.onnx").write_bytes(b"not a model")
    result = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "Who did Lee meet?", "--index", str(seed_index_dir), "-q"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "CITEQA_READER": str(copy)},
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "reader model" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory) -> tuple[Path, Path]:
    """(the reader folder, the work folder) of `python -m qa.reader.train` run for a few steps on a few questions
    of each set, made once for the tests that read it."""
    if not TRAIN.is_dir():
        pytest.skip("the training data (../shared/train) is not beside this checkout")
    from qa.reader.train import main

    folder = tmp_path_factory.mktemp("tiny_reader")
    out, work = folder / "model", folder / "work"
    args = ["--data", str(TRAIN), "--out", str(out), "--work", str(work), "--limit", "10", "--max-steps", "2"]
    assert main([*args, "--validation-groups", "8"]) == 0
    return out, work


def test_the_training_command_runs_end_to_end_on_a_tiny_sample(tiny_export):
    """A few steps on a few questions of each set: data, training, checkpoint, validation, export, manifest."""
    import onnx

    out, work = tiny_export
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["max_steps"] == 2 and manifest["hyper"]["seed"] == 13
    # int8 against torch was measured at export; a barely trained network's logits are near-ties, so only how
    # far its probabilities moved is asserted here, not which sentence came first
    assert manifest["export"]["groups"] >= 1 and manifest["export"]["probability_mean_difference"] < 0.1
    assert (work / "checkpoint.pt").exists() and "step 2/2" in (work / "train.log").read_text()
    reading = Reader(out).read("Who?", ["Somebody did it."], [""])[0]
    assert 0.0 <= reading.probability <= 1.0
    ops = {node.op_type for node in onnx.load(str(out / "reader.onnx")).graph.node}
    assert "MatMulIntegerToFloat" in ops and "DynamicQuantizeLinear" not in ops  # scaled per token at export


def test_an_export_is_made_again_from_its_own_weights(tiny_export, tmp_path):
    """python -m qa.reader.reexport: a reader exported anew from the weights in its file, in place; the same
    weights come back out, and the manifest records both files against the network they make."""
    from qa.reader.recover import exported_state
    from qa.reader.reexport import reexport

    out = tmp_path / "model"
    shutil.copytree(tiny_export[0], out)
    weights = exported_state(out / "reader.onnx")
    manifest = reexport(out, TRAIN, limit=10, log=lambda _: None)
    again = exported_state(out / "reader.onnx")
    assert weights.keys() == again.keys() and all(np.array_equal(weights[k], again[k]) for k in weights)
    assert (out / "reader.onnx").stat().st_size == manifest["bytes"]
    record = manifest["reexported"]["against_the_weights_network"]
    assert record["after"]["probability_mean_difference"] < 0.01 and record["before"]["groups"] >= 1
    assert Reader(out).read("Who?", ["Somebody did it."], [""])[0].probability > 0
    trained = manifest["reexported"]["export_of_the_trained_network"]
    assert reexport(out, TRAIN, limit=10, log=lambda _: None)["reexported"]["export_of_the_trained_network"] == trained


@pytest.mark.skipif(not TRAIN.is_dir(), reason="the training data (../shared/train) is not beside this checkout")
def test_training_continues_an_exported_reader(tmp_path):
    """A recipe with one more round starts from the first round's export when no checkpoint is there: the
    recovered network reads as the int8 file does, trains on from the step its rounds ended at (saying so where
    its bfloat16 round will run emulated), and an export of another recipe is refused."""
    import numpy as np

    from qa.reader.export import onnx_runner, scores_of, torch_runner
    from qa.reader.train import Hyper, Round, continued_export, emulates_bf16, finish, train

    quiet = []
    first = Hyper(rounds=(Round(8, 5e-5),))
    net, validation, tokenizer, started = train(TRAIN, tmp_path / "w1", first, 10, None, quiet.append)
    assert started is None
    finish(net, validation[:8], tokenizer, tmp_path / "first", first, {"limit": 10, "max_steps": None}, quiet.append)
    more = Hyper(rounds=(*first.rounds, Round(4, 3e-5, answerless_share=0.4, bf16=True)))  # one step
    recovered, validation, _, started = train(TRAIN, tmp_path / "w2", more, 10, 0, quiet.append, tmp_path / "first")
    assert started["rounds"] == 1 and len(started["reader_sha256"]) == 64
    exact = scores_of(torch_runner(recovered), tokenizer, validation[:8], True)
    exported = scores_of(onnx_runner(tmp_path / "first" / "reader.onnx"), tokenizer, validation[:8], True)
    difference = np.concatenate([np.abs(a - b) for (a, _), (b, _) in zip(exact, exported, strict=True)])
    assert difference.mean() < 0.05  # logits; int8 rounding of activations is what is left

    lines: list[str] = []
    train(TRAIN, tmp_path / "w3", more, 10, None, lines.append, tmp_path / "first")
    begun = int(next(line for line in lines if "continuing the export" in line).split("at step ")[1].split()[0])
    steps = [line.split()[1] for line in lines if line.startswith("step ")]
    done, total = map(int, steps[-1].split("/"))
    assert begun > 0 and done == total > begun
    # its bfloat16 round: said where it is slow
    assert any("bfloat16 rounds run emulated" in line for line in lines) == emulates_bf16()
    with pytest.raises(ValueError, match="not a finished export"):
        continued_export(tmp_path / "first", Hyper(seed=14, rounds=more.rounds), [3, 3], 10)


def test_reading_at_question_time_imports_no_torch():
    import subprocess
    import sys

    code = (
        "import sys; from qa.reader.model import Reader; Reader().read('Who?', ['Somebody did.'], ['']); "
        "print(sorted(m for m in ('torch', 'transformers', 'sklearn', 'qa.reader.train', 'qa.reader.data') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_the_reader_is_used_by_default_and_can_be_turned_off(seed_index_dir):
    """Every answer's citations carry the reader's probability; --no-reader answers with the feature model."""
    from qa.pipeline import Assistant
    from qa.settings import Settings

    question = "Where did Pompeo give a speech on Monday?"
    for reader, expect in ((True, float), (False, type(None))):
        assistant = Assistant(index_dir=seed_index_dir, settings=Settings(reader=reader))
        try:
            answer = assistant.ask(question)
        finally:
            assistant.close()
        assert answer.answered and "Silicon Valley" in answer.citations[0].sentence
        assert all(isinstance(c.reader, expect) for c in answer.citations)
    for mode in ("bm25", "dense"):
        assistant = Assistant(index_dir=seed_index_dir)
        try:
            answer = assistant.ask(question, mode=mode)
        finally:
            assistant.close()
        assert "Silicon Valley" in answer.citations[0].sentence and answer.citations[0].reader is not None


def test_constraint_traps_move_the_question_off_what_its_answer_states():
    import random

    from qa.reader.data import Group, Item, constraint_trap

    cup = Group(
        "Which team won the 2004 FA Cup final?",
        "nq",
        "d",
        (Item("Manchester United won the 2004 FA Cup final.", "", 1.0, (0, 17)), Item("Millwall lost.", "", 0.0)),
    )
    moved = constraint_trap(cup, [], random.Random(1))
    assert moved is not None and "2004" not in moved.question and moved.question != cup.question
    assert [i.label for i in moved.items] == [0.0, 0.0] and all(i.span is None for i in moved.items)
    film = Group("Who directed the Prisoner of Azkaban?", "nq", "d", (Item("Cuaron directed Azkaban.", "", 1.0),))
    renamed = constraint_trap(film, ["Goblet"], random.Random(1))
    assert renamed is not None and renamed.question == "Who directed the Prisoner of Goblet?"
    assert (
        constraint_trap(Group("what is it?", "nq", "d", (Item("It is.", "", 1.0),)), ["Goblet"], random.Random(1))
        is None
    )


def test_an_answerless_batch_reads_only_negatives_and_leaves_out_lone_answers():
    import random

    from qa.reader.data import Group, Item
    from qa.reader.train import Hyper, Round, batch_of

    tokenizer = load_tokenizer(MODEL_DIR / "tokenizer.json")
    lone = Group("Who?", "tweet", "t", (Item("Jo did it.", "", 1.0, (0, 2)),))
    other = Group(
        "Who founded Acme?", "nq", "d", (Item("Jo founded Acme.", "", 1.0), Item("Acme makes anvils.", "", 0.0))
    )
    everything = Round(0, 0.0, answerless_share=1.0)
    _, labels, _, bounds = batch_of(tokenizer, [lone, other, other], Hyper(), random.Random(3), everything)
    assert not labels.any() and all(b > a for a, b in bounds) and len(bounds) == 2


def test_similar_negatives_are_the_documents_most_alike_sentences_that_do_not_answer():
    """The sentence restating the question's premise is found in another paragraph; the answering sentence and
    any sentence holding the answer never are; a round reading them keeps the other documents' sentences."""
    from qa.reader.data import Document, Group, Item, Question, retrieved_negatives
    from qa.reader.train import with_similar

    shell = Document(
        "news:1",
        "new_wiki",
        "Shell deal",
        [
            ["Shell signed a $6bn gas project deal with Qatar on Monday.", "Weather was mild in Doha."],
            ["The Qatar gas project deal makes Shell the largest investor.", "Shell will own 30% of the project."],
            ["Analysts said 30% was a fair share.", "Markets closed higher."],
        ],
    )
    other = Document("news:2", "new_wiki", "", [["BP signed a gas deal with Oman.", "Markets fell on Monday."]])
    questions = [
        Question("What share of the Qatar gas project deal will Shell own?", shell, 1, 1, None, ("30%",)),
        Question("Who signed a gas deal with Oman?", other, 0, 0, None, ("BP",)),
    ]
    far, near = retrieved_negatives(questions, 1, 2)
    alike = [sentence for sentence, _ in near[0]]
    assert alike == [
        "The Qatar gas project deal makes Shell the largest investor.",
        "Shell signed a $6bn gas project deal with Qatar on Monday.",
    ]
    assert near[0][0][1] == join_context("Shell deal", "Weather was mild in Doha.")  # read with its context
    assert all(sentence not in shell.paragraphs[0] + shell.paragraphs[1] for sentence, _ in far[0])

    items = tuple(Item(f"s{n}", "", float(n == 0)) for n in range(7))  # answer, 3 + 1 of the article, 2 retrieved
    group = Group("q", "new_wiki", "d", items, (Item("h", "", 0.0), items[2]))
    read = with_similar(group, 2, 7)
    assert [i.sentence for i in read] == ["s0", "h", "s2", "s3", "s4", "s5", "s6"]
    assert with_similar(group, 0, 7) == items and with_similar(Group("q", "nq", "d", items), 2, 7) == items
