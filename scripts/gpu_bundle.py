"""Pack what a GPU machine needs to train the tagger with scripts/gpu_tagger.py into one folder.

    python scripts/gpu_bundle.py --corpus ../shared/corpus --out .gpu \
        [--model restore/models/default] [--words 3750000] [--skip-words 0]

The device tool sends the checkout's tracked files and named folders, at most 64 MiB in all, to
a machine with torch and transformers but neither `datasets`, the corpus nor the thesauri. The
folder gets:

* ``model.tar.xz``: the model directory to start from (weights, tokenizer, count files; the npz
  files re-saved uncompressed so that xz packs them well; the inverse table without its
  relation counts, so the exported model's ``inverse.npz`` must be put back from the start
  model before it ships);
* ``news.jsonl.xz``: news to spin there: ``--words`` of allsides train documents, taken in a
  seeded order from the second half of its train documents (the default's CPU stages never
  reached them) after skipping ``--skip-words`` (the documents earlier runs used: 3,750,000
  for the default's GPU runs), and ``--valid-words`` of valid documents for the in-training
  evaluation;
* ``whl/``: the lemminflect wheel (the spinner inflects with it).

It prints how much would travel beside the code, and the device command. Keep ``--out`` out of
git (``/.gpu/`` in ``.git/info/exclude``); for the call, take the big tracked folders out of the
index (``git rm -r -q --cached restore/models tests docs``, the same three in
``.git/info/exclude``) and put them back after (``git reset -q``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import lzma
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

LIMIT = 64 * 2**20
MODEL_FILES = ("config.json", "tokenizer.json", "model.safetensors", "restore.json")
NPZ_FILES = ("inverse.npz", "context.npz", "ngram/counts.npz")
NGRAM_FILES = ("ngram/vocab.txt", "ngram/manifest.json")
# Training never reads how the thesaurus lists each original (only a choice rule does, fitted
# here), and at 128 originals a key those counts alone would push the bundle past the limit.
LEFT_BEHIND = {("inverse.npz", "relation_sizes")}
DEVICE_COMMAND = """\
python3 -m pip install -q --no-index --no-deps --target /tmp/site {out}/whl/*.whl && \\
export PYTHONPATH=/tmp/site:$PWD TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1; \\
mkdir -p restore/models && tar xJf {out}/model.tar.xz -C restore/models && \\
xz -dc {out}/news.jsonl.xz > /tmp/news.jsonl && \\
python3 scripts/gpu_tagger.py --config configs/tagger-gpu.yaml --news /tmp/news.jsonl \\
    --output-dir /tmp/run --set tagger.minutes=MINUTES --set tagger.workers=14"""


def pick_news(corpus: Path, words: int, skip_words: int, valid_words: int, seed: int) -> str:
    """The news file's JSONL text (``id``, ``text``, ``split``)."""
    with gzip.open(corpus / "allsides.jsonl.gz", "rt", encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh]
    train = [d for d in docs if d.get("split") == "train"]
    tail = train[len(train) // 2 :]
    random.Random(seed).shuffle(tail)
    chosen, seen = [], 0
    for doc in tail:
        size = len(doc["text"].split())
        seen += size
        if seen <= skip_words:
            continue
        chosen.append(doc)
        if seen - skip_words >= words:
            break
    valid, seen = [d for d in docs if d.get("split") == "valid"], 0
    for doc in valid:
        chosen.append(doc)
        seen += len(doc["text"].split())
        if seen >= valid_words:
            break
    keys = ("id", "text", "split")
    return "".join(json.dumps({k: d[k] for k in keys}) + "\n" for d in chosen)


def pack_model(model: Path, target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "default"
        (copy / "ngram").mkdir(parents=True)
        for name in MODEL_FILES + NGRAM_FILES:
            shutil.copy(model / name, copy / name)
        for name in NPZ_FILES:
            with np.load(model / name) as arrays:
                kept = {k: arrays[k] for k in arrays.files if (name, k) not in LEFT_BEHIND}
                np.savez(copy / name, **kept)
        with tarfile.open(target, "w:xz", preset=9 | lzma.PRESET_EXTREME) as tar:
            tar.add(copy, arcname="default")


def tracked_bytes(excluded: tuple[str, ...]) -> int:
    names = subprocess.run(
        ["git", "ls-files", "-z"], capture_output=True, check=True, text=True
    ).stdout.split("\0")
    return sum(
        Path(n).stat().st_size
        for n in names
        if n and not n.startswith(excluded) and Path(n).exists()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, type=Path)
    parser.add_argument("--model", default="restore/models/default", type=Path)
    parser.add_argument("--out", default=".gpu", type=Path, help="a folder inside the checkout")
    parser.add_argument("--words", type=int, default=3_750_000)
    parser.add_argument("--skip-words", type=int, default=0)
    parser.add_argument("--valid-words", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    news = pick_news(args.corpus, args.words, args.skip_words, args.valid_words, args.seed)
    with lzma.open(args.out / "news.jsonl.xz", "wt", preset=9 | lzma.PRESET_EXTREME) as fh:
        fh.write(news)
    pack_model(args.model, args.out / "model.tar.xz")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.12",
            "-d",
            str(args.out / "whl"),
            "lemminflect==0.2.3",
        ],
        check=True,
    )
    bundle = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    code = tracked_bytes(("restore/models/", "tests/", "docs/"))
    total = bundle + code
    print(
        f"bundle {bundle / 1e6:.1f} MB + code {code / 1e6:.1f} MB = {total / 1e6:.1f} MB "
        f"of {LIMIT / 1e6:.1f} MB"
    )
    print(f'device command (carry: ["{args.out}"]):\n' + DEVICE_COMMAND.format(out=args.out))
    return 0 if total <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
