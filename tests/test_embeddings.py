"""The embedding backends agree, and a one-shot `ask` runs on the ONNX export without torch."""

import subprocess
import sys

import numpy as np
import pytest

from embeddings import DEFAULT_MODEL, ExportRefused, load_embedder, model_id_for
from embeddings.base import model_location
from embeddings.onnx import OnnxEmbedder, export, pooling_of
from embeddings.sentence_transformer import SentenceTransformerEmbedder
from qa.paths import cache_root
from qa.text.sentences import split_sentences
from tests.conftest import ROOT, SEEDS


def test_model_ids_are_stable(tmp_path):
    assert model_id_for(None) == model_id_for("all-MiniLM-L6-v2") == DEFAULT_MODEL
    assert model_id_for(str(tmp_path)) == str(tmp_path.resolve())
    assert model_id_for("org/some-model") == "org/some-model"


def test_vectors_are_unit_float32_in_input_order(assistant):
    embedder = assistant.embedder
    texts = ["short", "a considerably longer text about sanctions on North Korea", "mid length text"]
    together = embedder.encode(texts)
    assert together.dtype == np.float32 and together.shape == (3, embedder.dim)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    alone = np.stack([embedder.encode([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_onnx_export_matches_sentence_transformers(seed_index_dir):
    """The session's first model load exported the model; both backends give the same vectors."""
    assert isinstance(load_embedder(), SentenceTransformerEmbedder)  # no export folder given: no fast path
    onnx = load_embedder(export_root=cache_root() / "onnx")
    assert isinstance(onnx, OnnxEmbedder)
    reference = SentenceTransformerEmbedder(DEFAULT_MODEL)
    texts = [s.text for p in SEEDS.glob("*.txt") for s in split_sentences(p.read_text(encoding="utf-8"))]
    assert np.abs(onnx.encode(texts) - reference.encode(texts)).max() < 1e-4
    assert onnx.count_tokens(texts) == reference.count_tokens(texts)
    long_text = "word " * 600  # beyond the 256-token limit: both truncate the same way
    assert np.abs(onnx.encode([long_text]) - reference.encode([long_text])).max() < 1e-4


def test_one_shot_ask_does_not_import_torch(seed_index_dir):
    """Nor what only indexing needs: bm25s and scipy (0.3 s); nor pydantic, which typer 0.29 brings (0.1 s);
    nor numpy.ma, which np.unique imports (28 ms)."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from qa.cli import app\n"
        f"r = CliRunner().invoke(app, ['ask', 'Who did Lee In-young meet?', '--index', {str(seed_index_dir)!r}])\n"
        "assert r.exit_code == 0 and 'Harry Harris' in r.output, r.output\n"
        "heavy = ('torch', 'sentence_transformers', 'transformers', 'bm25s', 'scipy', 'pydantic', 'numpy.ma')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"embedding_dimension": 384, "pooling_mode": "mean"}, ("mean", 384)),  # sentence-transformers 6
        (
            {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False},
            ("mean", 384),
        ),
        ({"word_embedding_dimension": 768, "pooling_mode_cls_token": True}, ("cls", 768)),  # 3.x-5.x
        (
            {"word_embedding_dimension": 768, "pooling_mode_cls_token": True, "pooling_mode_max_tokens": True},
            ("cls+max", 768),
        ),
    ],
)
def test_pooling_is_read_from_every_supported_config_generation(config, expected):
    assert pooling_of(config) == expected


def test_a_refused_export_says_why(tmp_path):
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(model_location(DEFAULT_MODEL))
    pooling = models.Pooling(384, pooling_mode="max")  # all-MiniLM-L6-v2's dimension
    model = SentenceTransformer(modules=[transformer, pooling], device="cpu")
    with pytest.warns(ExportRefused, match=r"ONNX fast path not set up for test/max: its pooling is max"):
        assert export(model, "test/max", tmp_path / "export") is False
    assert not (tmp_path / "export").exists()


def test_token_batches_bound_padding_and_keep_every_row():
    from embeddings.base import token_batches

    lengths = [5, 40, 7, 300, 12, 12, 3, 60]
    batches = token_batches(lengths, max_tokens=64, max_rows=4)
    assert sorted(int(i) for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        width = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * width <= 64
        assert len(batch) <= 4
    assert [lengths[i] for i in batches[0]] == [300]  # the longest first, alone when over the budget


def test_int8_encoder_agrees_with_fp32(seed_index_dir):
    """The quantized copy is made once from the fp32 export (no torch) and checked against it."""
    from embeddings.onnx import int8_disagreement

    fp32 = load_embedder(export_root=cache_root() / "onnx")
    int8 = load_embedder(export_root=cache_root() / "onnx", precision="int8")
    assert (int8.precision, int8.model_file) == ("int8", "model.int8.onnx")
    assert int8_disagreement(fp32, int8) is None
    texts = [s.text for p in SEEDS.glob("*.txt") for s in split_sentences(p.read_text(encoding="utf-8"))]
    cosines = np.sum(fp32.encode(texts) * int8.encode(texts), axis=1)
    assert cosines.min() > 0.98
    assert not np.allclose(fp32.encode(texts), int8.encode(texts), atol=1e-4)  # really other weights


def test_int8_check_refuses_a_lossy_quantization_and_names_its_margins(seed_index_dir, tmp_path):
    """Per-tensor scales (which lose too much) fail the check that the per-channel copy passes, and the check's
    margins sit far from what either measures, so neither verdict can flip on another machine."""
    from embeddings.onnx import (
        INT8_CLEAR_LEAD,
        INT8_MIN_COSINE,
        INT8_MIN_RANK_CORRELATION,
        OnnxEmbedder,
        int8_disagreement,
        quantize,
    )

    fp32 = load_embedder(export_root=cache_root() / "onnx")
    lossy = fp32.directory / f".per-tensor-{tmp_path.name}.onnx"
    try:
        quantize(fp32.directory / "model.onnx", lossy, per_channel=False)
        reason = int8_disagreement(fp32, OnnxEmbedder(fp32.model_id, fp32.directory, "int8", lossy.name))
    finally:
        lossy.unlink(missing_ok=True)
    assert reason is not None and ("cosine" in reason or "rank" in reason)
    assert (INT8_MIN_COSINE, INT8_CLEAR_LEAD, INT8_MIN_RANK_CORRELATION) == (0.98, 0.1, 0.97)


def test_unknown_precision_is_refused():
    from embeddings import EmbeddingError

    with pytest.raises(EmbeddingError, match="unknown precision 'int4'"):
        load_embedder(precision="int4")


def test_the_saved_optimized_graph_gives_the_plain_models_vectors(seed_index_dir, tmp_path):
    """The first session saves onnxruntime's rewritten graph with its weights apart; later sessions load that
    (no rewrite, weights mapped) and give the vectors a plain session of the export gives. A damaged saved
    copy is made again, never used."""
    import onnxruntime

    export = load_embedder(export_root=cache_root() / "onnx").directory
    folder = tmp_path / "export"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "model.onnx"):
        (folder / name).symlink_to(export / name)
    texts = [s.text for p in SEEDS.glob("*.txt") for s in split_sentences(p.read_text(encoding="utf-8"))]
    plain = OnnxEmbedder(DEFAULT_MODEL, folder)
    plain.__dict__["session"] = onnxruntime.InferenceSession(str(folder / "model.onnx"))  # onnxruntime's defaults
    expected = plain.encode(texts)

    first = OnnxEmbedder(DEFAULT_MODEL, folder).encode(texts)
    saved = folder / "optimized-fp32"
    assert sorted(p.name for p in saved.iterdir()) == ["model.onnx", "weights.data"]
    assert (saved / "model.onnx").stat().st_size < 1_000_000  # the weights are in their own file
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # no staging left behind
    again = OnnxEmbedder(DEFAULT_MODEL, folder).encode(texts)
    assert np.abs(first - expected).max() < 1e-5 and np.abs(again - expected).max() < 1e-5

    (saved / "model.onnx").write_bytes(b"damaged")
    assert np.abs(OnnxEmbedder(DEFAULT_MODEL, folder).encode(texts) - expected).max() < 1e-5
    assert (saved / "model.onnx").stat().st_size > len(b"damaged")  # made again
