"""Build the candidate table of the ``choices`` and ``tags`` formats from training pairs.

For every word or phrase our spinner wrote into the train split, the table keeps the originals
it most often replaced (the inverse of the spinner's lexicon, ranked by how often each was seen)
and the share of its occurrences in spun text that were spinner output. Words that are mostly
natural text ("said", "the") are left out, so the model is only asked about words that a spinner
plausibly wrote.

    python -m training.candidates --config configs/default.yaml
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from collections import Counter, defaultdict
from pathlib import Path

from restore.candidates import CANDIDATES_FILE, CandidateTable, key_of
from restore.text import tokenize
from training.config import ExperimentConfig, add_config_arguments, config_from_args

log = logging.getLogger(__name__)


def count_substitutions(rows) -> tuple[dict[tuple[str, ...], Counter], int]:
    """Spinner output key -> Counter of lower-cased originals, over every row's substitutions."""
    originals: dict[tuple[str, ...], Counter] = defaultdict(Counter)
    n = 0
    for substitutions in rows:
        n += 1
        for sub in substitutions:
            key = key_of(sub["replacement"])
            if key:
                originals[key][sub["original"].lower()] += 1
    return originals, n


def count_natural(rows, keys: set[tuple[str, ...]], max_len: int) -> tuple[Counter, int]:
    """Occurrences of each key in spun text outside the spinner's substitutions."""
    natural: Counter = Counter()
    n = 0
    for spun, substitutions in rows:
        n += 1
        covered = [(s["spun_start"], s["spun_end"]) for s in substitutions]
        tokens = tokenize(spun)
        words = [t.text.lower() for t in tokens]
        for i in range(len(tokens)):
            for length in range(1, max_len + 1):
                key = tuple(words[i : i + length])
                if len(key) < length:
                    break
                if key in keys:
                    start, end = tokens[i].start, tokens[i + length - 1].end
                    if not any(s < end and start < e for s, e in covered):
                        natural[key] += 1
    return natural, n


def build_table(
    dataset, *, top_k: int, min_spun_share: float, min_count: int, sample_rows: int, seed: int
) -> CandidateTable:
    originals, n_all = count_substitutions(dataset["substitutions"])
    originals = {k: c for k, c in originals.items() if sum(c.values()) >= min_count}
    keys = set(originals)
    max_len = max(len(k) for k in keys)
    picked = random.Random(seed).sample(range(len(dataset)), min(sample_rows, len(dataset)))
    sample = dataset.select(sorted(picked))
    natural, n_sample = count_natural(zip(sample["spun"], sample["substitutions"]), keys, max_len)
    entries = {}
    for key, counts in originals.items():
        spun_rate = sum(counts.values()) / n_all
        natural_rate = natural[key] / n_sample
        share = spun_rate / (spun_rate + natural_rate)
        if share < min_spun_share:
            continue
        ranked = [w for w, c in counts.most_common(top_k) if c >= min_count and w != " ".join(key)]
        if ranked:
            entries[" ".join(key)] = (round(share, 3), ranked)
    return CandidateTable(entries)


def build_candidates(config: ExperimentConfig, output_dir: str | Path) -> Path:
    """Build ``OUTPUT_DIR/candidates/`` from ``OUTPUT_DIR/pairs``; returns the table's path."""
    import datasets

    c = config.candidates
    pairs_dir = Path(output_dir) / "pairs"
    if not pairs_dir.is_dir():
        raise FileNotFoundError(f"{pairs_dir} not found: run training.synthesize first")
    pairs = datasets.load_from_disk(str(pairs_dir))
    table = build_table(
        pairs["train"],
        top_k=c.top_k,
        min_spun_share=c.min_spun_share,
        min_count=c.min_count,
        sample_rows=c.sample_rows,
        seed=config.seed,
    )
    out = Path(output_dir) / "candidates"
    out.mkdir(parents=True, exist_ok=True)
    table.save(out / CANDIDATES_FILE)
    stats = {"stage": "candidates", **coverage(table, pairs["valid"])}
    (out / "manifest.json").write_text(json.dumps(stats, indent=2) + "\n")
    log.info("candidates: %s", json.dumps(stats))
    return out / CANDIDATES_FILE


def coverage(table: CandidateTable, dataset) -> dict:
    """How many spinner substitutions the table can restore, and how many slots it opens."""
    subs = found = first = slots = words = 0
    for spun, substitutions in zip(dataset["spun"], dataset["substitutions"]):
        matches = {(m.start, m.end): m for m in table.match(spun)}
        slots += len(matches)
        words += sum(t.kind == "word" for t in tokenize(spun))
        for s in substitutions:
            subs += 1
            m = matches.get((s["spun_start"], s["spun_end"]))
            if m and s["original"].lower() in m.candidates:
                found += 1
                first += m.candidates[0] == s["original"].lower()
    return {
        "entries": len(table),
        "substitutions": subs,
        "restorable": round(found / max(subs, 1), 4),
        "restorable_top1": round(first / max(subs, 1), 4),
        "slots_per_word": round(slots / max(words, 1), 4),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    args = parser.parse_args(argv)
    config = config_from_args(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    build_candidates(config, config.output_dir)


if __name__ == "__main__":
    main()
