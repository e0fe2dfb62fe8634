"""The embedding backends agree, and a one-shot `ask` runs on the ONNX export without torch."""

import subprocess
import sys

import numpy as np

from embeddings import DEFAULT_MODEL, load_embedder, model_id_for
from embeddings.onnx import OnnxEmbedder
from embeddings.sentence_transformer import SentenceTransformerEmbedder
from qa.sentences import split_sentences
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
    onnx = load_embedder()
    assert isinstance(onnx, OnnxEmbedder)
    reference = SentenceTransformerEmbedder(DEFAULT_MODEL)
    texts = [s.text for p in SEEDS.glob("*.txt") for s in split_sentences(p.read_text(encoding="utf-8"))]
    assert np.abs(onnx.encode(texts) - reference.encode(texts)).max() < 1e-4
    assert onnx.count_tokens(texts) == reference.count_tokens(texts)
    long_text = "word " * 600  # beyond the 256-token limit: both truncate the same way
    assert np.abs(onnx.encode([long_text]) - reference.encode([long_text])).max() < 1e-4


def test_one_shot_ask_does_not_import_torch(seed_index_dir):
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from qa.cli import app\n"
        f"r = CliRunner().invoke(app, ['ask', 'Who did Lee In-young meet?', '--index', {str(seed_index_dir)!r}])\n"
        "assert r.exit_code == 0 and 'Harry Harris' in r.output, r.output\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
