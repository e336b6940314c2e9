"""Does reading each top candidate in place choose better than the candidate head?

    python scripts/insertion_signals.py --corpus ../shared/corpus --rate 0.1 0.3 0.5 \
        --max-paragraphs 300 [--min-spin 0.3] [--top 3]

At every site the network thinks at least ``--min-spin`` likely spun, its ``--top`` candidates
are put in, one forward pass per rank (rank r at every such site at once), and the detection
head's P(spun) of each inserted word is read back. At those sites whose original is a
candidate, prints one JSON line per rate: how often the network alone ranks the original first,
how often log P(original) + a x log(1 - P(spun of the inserted word)) does (``insert_a``), and
how often the original is among the top candidates at all. Valid split; never tune on test.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from restore import Restorer
from training import evaluation
from training.tagger.edit_rule import spun_units

WEIGHTS = (0.5, 1.0, 2.0, 4.0, 1000.0)


def with_candidates(unit, picks: dict[int, str]) -> tuple[str, dict[int, int]]:
    """``unit``'s text with site k replaced by ``picks[k]``, and where each now starts."""
    parts, pos, starts, shift = [], 0, {}, 0
    for k in sorted(picks, key=lambda k: unit.sites[k].start):
        site = unit.sites[k]
        parts += [unit.text[pos : site.start], picks[k]]
        starts[k] = site.start + shift
        shift += len(picks[k]) - (site.end - site.start)
        pos = site.end
    parts.append(unit.text[pos:])
    return "".join(parts), starts


def insertion_signals(restorer, rows, *, min_spin: float, top: int, batch: int = 32) -> dict:
    engine = restorer.runtime.engine
    pairs = spun_units(restorer, rows)
    records = []  # (index of the original, the top candidates, their log P, inserted P(spun))
    for first in range(0, len(pairs), batch):
        chunk = pairs[first : first + batch]
        units = [u for u, _ in chunk]
        word_probs, log_probs = engine.forward(units)
        at, own = 0, []
        for unit in units:
            own.append([log_probs[at + k][: len(s.candidates)] for k, s in enumerate(unit.sites)])
            at += len(unit.sites)
        variants, where = [], []
        for b, (unit, spins) in enumerate(zip(units, word_probs)):
            active = [
                k for k, s in enumerate(unit.sites) if s.candidates and spins[s.first] >= min_spin
            ]
            order = {k: np.argsort(-own[b][k])[:top] for k in active}
            for r in range(top if active else 0):
                picks = {k: unit.sites[k].candidates[o[r]] for k, o in order.items() if len(o) > r}
                text, starts = with_candidates(unit, picks)
                variants.append(engine.encode_text(text))
                where.append((b, r, starts))
        inserted = {}
        for v in range(0, len(variants), 2 * batch):
            probs, _ = engine.forward(variants[v : v + 2 * batch])
            for unit, spins, (b, r, starts) in zip(variants[v : v + 2 * batch], probs, where[v:]):
                token_at = {t.start: i for i, t in enumerate(unit.tokens)}
                for k, start in starts.items():
                    if start in token_at:
                        inserted[(b, k, r)] = spins[token_at[start]]
        for b, (unit, gold) in enumerate(chunk):
            for k, site in enumerate(unit.sites):
                original = gold.get((site.start, site.end))
                if original not in site.candidates or word_probs[b][site.first] < min_spin:
                    continue
                order = np.argsort(-own[b][k])[:top]
                spins = [inserted.get((b, k, r), np.nan) for r in range(len(order))]
                records.append((site.candidates.index(original), order, own[b][k][order], spins))
    out = {"sites": len(records)}
    if not records:
        return out
    out["network"] = float(np.mean([order[0] == want for want, order, _, _ in records]))
    out[f"in_top_{top}"] = float(np.mean([want in order for want, order, _, _ in records]))
    for a in WEIGHTS:
        right = 0
        for want, order, log_p, spins in records:
            spins = np.nan_to_num(np.asarray(spins), nan=0.99)  # a word that lost its token
            score = log_p + a * np.log(np.clip(1 - spins, 1e-6, 1))
            right += order[int(np.argmax(score))] == want
        out[f"insert_a{a:g}"] = right / len(records)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    evaluation.add_study_arguments(parser)
    parser.add_argument("--min-spin", type=float, default=0.3)
    parser.add_argument("--top", type=int, default=3)
    args = parser.parse_args(argv)
    restorer = Restorer.from_pretrained(args.model, threads=args.threads)
    for rate, rows in evaluation.study_rows(args):
        found = insertion_signals(restorer, rows, min_spin=args.min_spin, top=args.top)
        print(json.dumps({"rate": rate, **{k: round(v, 4) for k, v in found.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
