"""How many of a spinner's swaps the inverse table can reach, when the spinner's thesaurus is
one the table was not built from, and what other candidate sources would add.

    python scripts/reach_signals.py --corpus ../shared/corpus --rate 0.3 --max-paragraphs 500 \
        --relations rel --keep syn sim hyper hypo --neighbours runs/neighbours30.json.gz
    python scripts/reach_signals.py --corpus ../shared/corpus --rate 0.3 --max-paragraphs 500 \
        --thesaurus runs/gcide.json.gz --neighbours runs/neighbours30.json.gz --gap-words 10 100

Spins valid paragraphs with some thesaurus relations only (``--relations``) or a synonyms file
(``--thesaurus``, such as ``training.gcide``'s) and counts, over the swaps whose spun word is a
key of the default model's table: how often the original is among the key's first ``--first``
originals; among those the relations in ``--keep`` list (a table without the spinner's
thesaurus; all relations by default); with the key's embedding neighbours added (the single-word
keys; ``--neighbours``, from ``python -m training.neighbours --per-word 30``); and with the
originals of the key's originals added (two hops through the kept table, ``--hops`` of each);
and with the words the train split puts between the site's two spun neighbours added (the
single-word keys; ``--gap-words``, the most often seen first): with the median number of
candidates each source adds. One JSON line per rate.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence

import numpy as np

from restore.loading import resolve_model
from restore.tagger.inverse import INVERSE_FILE, RELATIONS, InverseTable
from restore.tagger.ngram import BOS, EOS, lm_token
from restore.text import tokenize
from training import evaluation
from training.inflection import inflect, word_readings
from training.neighbours import load_neighbours
from training.tagger.edit_rule import gold_swaps
from training.tagger.fillin import GapWords, count_gaps
from training.tagger.ngram import iter_corpus_paragraphs


def kept_originals(table: InverseTable, key: str, keep: Sequence[str], first: int) -> list[str]:
    """The key's first ``first`` originals among those listed under a relation in ``keep``."""
    originals = [w for w, _ in table.candidates(key)]
    if set(keep) != set(RELATIONS):
        listed = table.relations(key)[:, [RELATIONS.index(r) for r in keep]].sum(axis=1) > 0
        originals = [w for w, ok in zip(originals, listed) if ok]
    return originals[:first]


def neighbour_forms(key: str, neighbours: Mapping[str, Sequence[str]], count: int) -> list[str]:
    """The first ``count`` neighbours of each reading of a single-word key, inflected like it."""
    found: dict[str, None] = {}
    for lemma, pos, tag in word_readings(key):
        for near in neighbours.get(f"{lemma}\t{pos}", ())[:count]:
            form = inflect(near, pos, tag)
            if form and form != key:
                found.setdefault(form)
    return list(found)


def reach(
    table: InverseTable,
    rows: Sequence[Mapping],
    *,
    keep: Sequence[str] = RELATIONS,
    first: int = 128,
    neighbours: Mapping[str, Sequence[str]] | None = None,
    counts: Sequence[int] = (10, 30),
    hops: int = 16,
    gaps: GapWords | None = None,
    gap_counts: Sequence[int] = (10, 100),
) -> dict[str, float]:
    """Reach of each candidate source over the swaps of pair ``rows`` (see the module doc)."""
    hits: dict[str, int] = {"swaps": 0, "sites": 0, "table": 0, "kept": 0}
    added: dict[str, list[int]] = {}
    for row in rows:
        tokens = tokenize(row["spun"])
        read = [BOS] + [lm_token(t) for t in tokens] + [EOS]
        at = {t.start: i + 1 for i, t in enumerate(tokens)}  # index in read
        sites = {(s.start, s.end): s.key for s in table.match(tokens)}
        for span, original in gold_swaps(row).items():
            hits["swaps"] += 1
            key = sites.get(span)
            if key is None:
                continue
            hits["sites"] += 1
            hits["table"] += original in kept_originals(table, key, RELATIONS, first)
            kept = kept_originals(table, key, keep, first)
            hits["kept"] += original in kept
            sources = {}
            if neighbours is not None and " " not in key:
                for n in counts:
                    sources[f"kept + neighbours {n}"] = neighbour_forms(key, neighbours, n)
            if gaps is not None and gap_counts and " " not in key:
                left, right = read[at[span[0]] - 1], read[at[span[0]] + 1]
                fills = [w for w in gaps.fills(left, right, max(gap_counts) + 1) if w != key]
                for n in gap_counts:
                    sources[f"kept + gap words {n}"] = fills[:n]
            if hops:
                two = dict.fromkeys(
                    w for x in kept[:hops] for w in kept_originals(table, x, keep, hops)
                )
                sources[f"kept + two hops ({hops} x {hops})"] = [w for w in two if w != key]
            for name, words in sources.items():
                hits[name] = hits.get(name, 0) + (original in kept or original in words)
                added.setdefault(name, []).append(len(set(words) - set(kept)))
    out: dict[str, float] = {"swaps": hits["swaps"], "sites": hits["sites"]}
    for name, count in hits.items():
        if name not in ("swaps", "sites"):
            out[name] = round(count / max(hits["swaps"], 1), 4)
    for name, sizes in added.items():
        out[f"{name}: median added"] = float(np.median(sizes))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    evaluation.add_study_arguments(parser)
    parser.add_argument("--relations", nargs="+", help="spin with these relations only")
    parser.add_argument("--thesaurus", help="spin with this synonyms file only")
    parser.add_argument("--keep", nargs="+", default=list(RELATIONS), choices=RELATIONS)
    parser.add_argument("--first", type=int, default=128, help="originals a key offers")
    parser.add_argument("--neighbours", help="embedding neighbours (training.neighbours)")
    parser.add_argument("--hops", type=int, default=16, help="0: no two-hop source")
    parser.add_argument(
        "--gap-words",
        type=int,
        nargs="+",
        help="add this many words the train split puts between the site's neighbours",
    )
    args = parser.parse_args(argv)
    table = InverseTable.load(resolve_model(args.model) / INVERSE_FILE)
    neighbours = load_neighbours(args.neighbours) if args.neighbours else None
    gaps = count_gaps(iter_corpus_paragraphs(args.corpus, "train")) if args.gap_words else None
    paragraphs = evaluation.select_paragraphs(
        args.corpus, args.split, max_paragraphs=args.max_paragraphs
    )
    for rate in args.rate:
        spinner = evaluation.restricted_spinner(rate, args.relations, args.thesaurus)
        rows = evaluation.spin_paragraphs(paragraphs, rate=rate, seed=args.seed, spinner=spinner)
        counts = reach(
            table,
            rows,
            keep=args.keep,
            first=args.first,
            neighbours=neighbours,
            hops=args.hops,
            gaps=gaps,
            gap_counts=args.gap_words or (),
        )
        print(json.dumps({"rate": rate, **counts}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
