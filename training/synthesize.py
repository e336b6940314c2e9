"""Pair synthesis: raw news -> units -> (spun, original) pairs, written as a `datasets` dataset.

    python -m training.synthesize --config configs/tiny.yaml [--output-dir DIR] [--set k=v]

Documents are read as a stream (news JSONL, optionally gzip'd; plain text; or ``hf:NAME`` for a
Hugging Face dataset), cut into units by :func:`restore.text.segment`, and spun
``spins_per_unit`` times with seeds derived from the document id and unit position, so any shard
regenerates alone and two runs are byte-identical. A share of units is also kept unspun so the
model learns to leave clean text alone. Each document goes to exactly one split: the input's
``split`` field where present, else a hash of its id (the rule ../shared/corpus uses).

Output, under ``<output_dir>/pairs``: a ``datasets.DatasetDict`` saved to disk (train, valid,
test) and ``manifest.json`` (counts, config and its hash, spinner statistics, time, memory).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import gzip
import hashlib
import json
import logging
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restore.text import count_words, normalize, segment
from training.config import (
    SPLITS,
    ConfigError,
    ExperimentConfig,
    SynthesisConfig,
    add_config_arguments,
    config_from_args,
    config_hash,
    config_to_dict,
    save_config,
)

logger = logging.getLogger(__name__)

_SPLIT_ALIASES = {"validation": "valid", "dev": "valid", "val": "valid"}


class SynthesisError(RuntimeError):
    """The inputs cannot be turned into pairs (missing, empty, unreadable)."""


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    split: str
    source: str = ""


def split_for_id(doc_id: str, holdout_percent: tuple[int, int] = (2, 2)) -> str:
    """sha1(id) mod 100: below test% is test, the next valid% is valid, the rest train."""
    bucket = int(hashlib.sha1(doc_id.encode("utf-8")).hexdigest(), 16) % 100
    test, valid = holdout_percent
    if bucket < test:
        return "test"
    if bucket < test + valid:
        return "valid"
    return "train"


def derive_seed(*parts: Any) -> int:
    """A 64-bit seed from any parts (experiment seed, document id, unit index, spin index)."""
    blob = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


# -- reading -------------------------------------------------------------------------------


def iter_documents(config: SynthesisConfig, stats: dict[str, int] | None = None):
    """Stream Documents from every input; malformed rows are logged, counted and skipped."""
    stats = stats if stats is not None else {}
    for spec in config.inputs:
        if spec.startswith("hf:"):
            yield from _iter_hf(spec[3:], config)
            continue
        paths = sorted(glob.glob(spec)) if any(c in spec for c in "*?[") else [spec]
        if not paths:
            raise SynthesisError(f"input {spec!r} matches no file")
        for path in paths:
            if not Path(path).is_file():
                raise SynthesisError(f"input file not found: {path}")
            name = path[:-3] if path.endswith(".gz") else path
            if name.endswith((".jsonl", ".json")):
                yield from _iter_jsonl(path, config, stats)
            else:
                yield from _iter_text(path, config, stats)


def _open_binary(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _iter_jsonl(path: str, config: SynthesisConfig, stats: dict[str, int]):
    with _open_binary(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
                text = row[config.text_field]
                if not isinstance(text, str):
                    raise TypeError(f"{config.text_field} is not a string")
                doc_id = str(row.get(config.id_field) or f"{Path(path).name}:{lineno}")
            except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as err:
                stats["malformed_rows"] = stats.get("malformed_rows", 0) + 1
                logger.warning("%s:%d: skipped malformed row (%s)", path, lineno, err)
                continue
            split = row.get(config.split_field)
            split = _SPLIT_ALIASES.get(split, split)
            if split not in SPLITS:
                split = split_for_id(doc_id, config.holdout_percent)
            yield Document(doc_id, text, split, str(row.get("source", "")))


def _iter_text(path: str, config: SynthesisConfig, stats: dict[str, int]):
    """A plain text file: each blank-line-separated paragraph is a document, read lazily."""
    stem = Path(path).name
    lines: list[str] = []
    index = 0
    with _open_binary(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                stats["malformed_rows"] = stats.get("malformed_rows", 0) + 1
                logger.warning("%s:%d: skipped line with invalid UTF-8 (%s)", path, lineno, err)
                continue
            if line.strip():
                lines.append(line)
                continue
            if lines:
                yield _text_document(stem, index, lines, config)
                index += 1
                lines = []
    if lines:
        yield _text_document(stem, index, lines, config)


def _text_document(stem: str, index: int, lines: list[str], config: SynthesisConfig) -> Document:
    doc_id = f"{stem}-{index}"
    return Document(doc_id, "".join(lines), split_for_id(doc_id, config.holdout_percent), stem)


def _iter_hf(spec: str, config: SynthesisConfig):
    import datasets  # only users with a hub connection take this path

    name, _, subset = spec.partition(":")
    streams = datasets.load_dataset(name, subset or None, streaming=True)
    for split_name, stream in streams.items():
        split = _SPLIT_ALIASES.get(split_name, split_name)
        for n, row in enumerate(stream):
            doc_id = str(row.get(config.id_field) or f"{name}-{split_name}-{n}")
            if split not in SPLITS:
                split = split_for_id(doc_id, config.holdout_percent)
            yield Document(doc_id, row[config.text_field], split, name)


# -- spinning ------------------------------------------------------------------------------


def iter_pairs(
    split: str,
    config: ExperimentConfig,
    shards: list[int] | None = None,
    num_shards: int = 1,
) -> Iterator[dict[str, Any]]:
    """Every pair of one split (or of some shards of its documents): the dataset generator.

    Document n belongs to shard ``n % num_shards``; ``shards=None`` takes them all.
    """
    from training.spinner import Spinner

    syn = config.synthesis
    spinners: dict[float, Spinner] = {}
    limit = syn.max_units.get(split, 0)
    # Each shard takes its part of the unit limit, so the total stays the same for any num_proc.
    share = sum(limit // num_shards + (s < limit % num_shards) for s in shards or [0])
    units = 0
    for n, doc in enumerate(iter_documents(syn)):
        if doc.split != split or (shards is not None and n % num_shards not in shards):
            continue
        for index, (start, end) in enumerate(
            segment(doc.text, max_words=syn.max_words, by=syn.unit)
        ):
            if limit and units >= share:
                return
            original = normalize(doc.text[start:end])
            if count_words(original) < syn.min_words:
                continue
            units += 1
            unit_id = f"{doc.id}:{index}"
            rng = random.Random(derive_seed(config.seed, unit_id, "clean"))
            if rng.random() < syn.clean_share:
                yield _row(unit_id, doc, original, original, 0.0, None)
            for k in range(syn.spins_per_unit):
                rng = random.Random(derive_seed(config.seed, unit_id, k))
                rate = rng.choice(syn.rates) if syn.rates else config.spinner.rate
                spinner = spinners.get(rate)
                if spinner is None:
                    spinner = spinners[rate] = Spinner(
                        dataclasses.replace(config.spinner, rate=rate)
                    )
                result = spinner.spin(original, rng=rng)
                yield _row(f"{unit_id}:{k}", doc, result.text, original, rate, result)


def _row(pair_id, doc, spun, original, rate, result) -> dict[str, Any]:
    return {
        "id": pair_id,
        "doc_id": doc.id,
        "source": doc.source,
        "spun": spun,
        "original": original,
        "rate": rate,
        "eligible_words": result.eligible_words if result else 0,
        "replaced_words": result.replaced_words if result else 0,
        "substitutions": [_substitution_row(s) for s in result.substitutions] if result else [],
    }


def _substitution_row(s) -> dict[str, Any]:
    row = dataclasses.asdict(s)
    row["inflected"] = s.inflected
    return row


def features():
    import datasets

    string, int32 = datasets.Value("string"), datasets.Value("int32")
    substitution = {
        "start": int32,
        "end": int32,
        "spun_start": int32,
        "spun_end": int32,
        "original": string,
        "replacement": string,
        "kind": string,
        "pos": string,
        "tag": string,
        "relation": string,
        "source": string,
        "words": int32,
        "inflected": datasets.Value("bool"),
    }
    return datasets.Features(
        {
            "id": string,
            "doc_id": string,
            "source": string,
            "spun": string,
            "original": string,
            "rate": datasets.Value("float64"),
            "eligible_words": int32,
            "replaced_words": int32,
            "substitutions": datasets.List(substitution),
        }
    )


# -- the stage -----------------------------------------------------------------------------


def synthesize(
    config: ExperimentConfig, output_dir: str | Path, *, overwrite: bool = False
) -> dict:
    """Write the pair dataset and its manifest under ``output_dir``; returns the manifest."""
    import datasets

    out = Path(output_dir)
    target = out / "pairs"
    if target.exists() and not overwrite:
        raise SynthesisError(f"{target} exists; pass --overwrite to replace it")
    if not config.synthesis.inputs:
        raise SynthesisError("synthesis.inputs is empty: name at least one input")
    started = time.time()
    read_stats: dict[str, int] = {}
    documents = {s: set() for s in SPLITS}
    for doc in iter_documents(config.synthesis, read_stats):
        documents[doc.split].add(doc.id)
    if not any(documents.values()):
        raise SynthesisError("the inputs hold no documents")

    out.mkdir(parents=True, exist_ok=True)
    cache = Path(tempfile.mkdtemp(prefix="synth-", dir=out))
    try:
        parts = {}
        num_proc = config.synthesis.num_proc
        for split in SPLITS:
            if not documents[split]:
                continue
            parts[split] = datasets.Dataset.from_generator(
                iter_pairs,
                features=features(),
                # datasets splits list-valued arguments between its worker processes.
                gen_kwargs={
                    "split": split,
                    "config": config,
                    "shards": list(range(num_proc)),
                    "num_shards": num_proc,
                },
                cache_dir=str(cache),
                num_proc=num_proc if num_proc > 1 else None,
                # The fingerprint must change with the config, never come from a stale cache.
                fingerprint=f"{config_hash(config)}-{split}",
            )
        staging = out / "pairs.tmp"
        if staging.exists():
            shutil.rmtree(staging)
        datasets.DatasetDict(parts).save_to_disk(str(staging))
    finally:
        shutil.rmtree(cache, ignore_errors=True)

    manifest = {
        "stage": "synthesize",
        "config_hash": config_hash(config),
        "documents": {s: len(documents[s]) for s in SPLITS},
        "malformed_rows": read_stats.get("malformed_rows", 0),
        "splits": {s: summarize(d) for s, d in parts.items()},
        "seconds": round(time.time() - started, 1),
        "peak_rss_mb": _peak_rss_mb(),
        "config": config_to_dict(config),
    }
    with open(staging / "manifest.json", "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
    save_config(config, staging / "config.yaml")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return manifest


def summarize(dataset) -> dict[str, Any]:
    """Counts and spinner statistics of one split, computed from the written data."""
    pairs = clean = eligible = replaced = 0
    words = 0
    kinds = {"word": 0, "phrase": 0, "function": 0}
    inflected = 0
    sources: dict[str, int] = {}
    relations: dict[str, int] = {}
    for batch in dataset.iter(batch_size=2048):
        for original, subs, rate, e, r in zip(
            batch["original"],
            batch["substitutions"],
            batch["rate"],
            batch["eligible_words"],
            batch["replaced_words"],
        ):
            pairs += 1
            words += count_words(original)
            if rate == 0.0 and not subs:
                clean += 1
                continue
            eligible += e
            replaced += r
            for s in subs:
                kinds[s["kind"]] += 1
                inflected += s["inflected"]
                sources[s["source"]] = sources.get(s["source"], 0) + 1
                relations[s["relation"]] = relations.get(s["relation"], 0) + 1
    total = sum(kinds.values())
    return {
        "pairs": pairs,
        "clean_pairs": clean,
        "achieved_rate": round(replaced / eligible, 4) if eligible else 0.0,
        "substitutions": total,
        "phrase_share": round(kinds["phrase"] / total, 4) if total else 0.0,
        "function_share": round(kinds["function"] / total, 4) if total else 0.0,
        "inflected_share": round(inflected / total, 4) if total else 0.0,
        "source_share": {k: round(v / total, 4) for k, v in sorted(sources.items())},
        "relation_share": {k: round(v / total, 4) for k, v in sorted(relations.items())},
        "words_per_pair": round(words / pairs, 2) if pairs else 0.0,
    }


def _peak_rss_mb() -> float:
    rusage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(rusage, children) / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.synthesize", description=__doc__)
    add_config_arguments(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace existing pairs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("datasets").setLevel(logging.WARNING)
    try:
        config = config_from_args(args)
        manifest = synthesize(config, config.output_dir, overwrite=args.overwrite)
    except (ConfigError, SynthesisError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    summary = {
        k: manifest[k] for k in ("documents", "malformed_rows", "splits", "seconds", "peak_rss_mb")
    }
    print(json.dumps(summary, indent=2))
    print(f"pairs written to {Path(config.output_dir) / 'pairs'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
