"""A reader exported again, in place, from the weights in its own file (qa.reader.recover), with today's export:

    python -m qa.reader.reexport [--model qa/reader/model] [--data ../shared/train]

for an export that improved after a reader was trained (per-token activations, plain attention ops), without
retraining it. The weights come back bit for bit; the manifest keeps the trained network's figures and records
both files' agreement with the network those weights make.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

from qa.provenance import current_commit
from qa.reader.data import load_groups
from qa.reader.encoding import load_tokenizer
from qa.reader.export import agreement, export, tokenizer_path
from qa.reader.recover import load_exported
from qa.reader.train import MODEL_DIR, _network


def reexport(model_dir: Path, data: Path, limit: int | None = None, log=print) -> dict:
    """Export the reader in `model_dir` again, in place, from its own weights, with today's export (qa.reader.export:
    per-token activations, plain attention ops), without retraining. Both files are measured against the network
    those weights make, on validation groups of `data`; the manifest keeps the trained network's figures and
    records both and the file it replaced. `limit`: questions of each set (the suite's tiny run). Returns the
    new manifest."""
    model, manifest_path = model_dir / "reader.onnx", model_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    replaced = hashlib.sha256(model.read_bytes()).hexdigest()
    net = _network(manifest["hyper"]["layers"])
    load_exported(net, model)
    net.eval()
    _, validation = load_groups(data, manifest["hyper"]["seed"], limit)
    tokenizer = load_tokenizer(tokenizer_path())
    before = agreement(net, tokenizer, model, validation)
    after = export(net, tokenizer, model_dir, validation)
    log(f"against the network of its weights: before {json.dumps(before)}, after {json.dumps(after)}")
    earlier = manifest.get("reexported")  # a second re-export keeps what the first kept of the training's export
    trained = earlier["export_of_the_trained_network"] if earlier else manifest["export"]
    manifest.update(
        export=after,
        activations="per token",
        bytes=model.stat().st_size,
        reexported={
            "from_sha256": replaced,
            "commit": current_commit(),
            "export_of_the_trained_network": trained,
            "against_the_weights_network": {"before": before, "after": after},
        },
    )
    staged = model_dir / ".manifest.json"
    staged.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(staged, manifest_path)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qa.reader.reexport",
        description="Export a reader again from its own weights with today's export (per-token activations), "
        "in place and without retraining; its manifest records what changed.",
    )
    parser.add_argument("--model", type=Path, default=MODEL_DIR, help="the reader's folder (default: the shipped one)")
    parser.add_argument(
        "--data", type=Path, default=Path("../shared/train"), help="the training data (its validation split)"
    )
    args = parser.parse_args(argv)
    try:
        reexport(args.model, args.data)
    except (OSError, ValueError, KeyError) as exc:
        print(f"python -m qa.reader.reexport: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
