"""How far the open-vocabulary head reaches beyond the inverse thesaurus, on spun valid text.

    python scripts/open_vocab_signals.py --corpus ../shared/corpus --rate 0.1 0.3 0.5 \
        --max-paragraphs 300

The tagger trains a head that scores every word piece as a site's original (the vocabulary
loss) but restores only the candidates its inverse table lists. At each spinner swap that is a
site, this prints (one JSON line per rate) how often the head ranks a one-piece original first
or among its top five, where the original is a candidate (``reachable``) and where it is not
(``unreachable``: what only an open vocabulary could put back), and the head's top
probability when it is right and when it is wrong there (what a gate could use). Valid split by
default; never tune on test.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

from restore import Restorer
from restore.tagger.batch import collate
from training import evaluation
from training.tagger.edit_rule import spun_units


def open_vocab_signals(restorer, rows, *, batch: int = 32) -> dict[str, float]:
    engine = restorer.runtime.engine
    tokenizer = engine.pieces.tokenizer
    found = {k: [] for k in ("reachable", "unreachable")}  # (rank of the original, top p, right)
    pairs = spun_units(restorer, rows)
    for first in range(0, len(pairs), batch):
        chunk = pairs[first : first + batch]
        units = [u for u, _ in chunk]
        with torch.inference_mode():
            out = engine.model(collate(units, engine.pieces))
            probs = torch.softmax(engine.model.vocab_logits(out.site_queries), dim=-1)
        at = 0
        for unit, gold in chunk:
            for site in unit.sites:
                row, at = probs[at], at + 1
                original = gold.get((site.start, site.end))
                if original is None:
                    continue
                ids = tokenizer.encode(original, add_special_tokens=False).ids
                if len(ids) != 1:
                    continue
                rank = int((row > row[ids[0]]).sum())
                top = float(row.max())
                kind = "reachable" if original in site.candidates else "unreachable"
                found[kind].append((rank, top))
    shares: dict[str, float] = {}
    for kind, seen in found.items():
        ranks = np.array([r for r, _ in seen])
        tops = np.array([p for _, p in seen])
        shares[f"{kind}_one_piece"] = len(seen)
        if len(seen):
            shares[f"{kind}_top1"] = float(np.mean(ranks == 0))
            shares[f"{kind}_top5"] = float(np.mean(ranks < 5))
            if (ranks == 0).any():
                shares[f"{kind}_top_p_right"] = float(np.median(tops[ranks == 0]))
            if (ranks > 0).any():
                shares[f"{kind}_top_p_wrong"] = float(np.median(tops[ranks > 0]))
    return shares


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    evaluation.add_study_arguments(parser)
    args = parser.parse_args(argv)
    restorer = Restorer.from_pretrained(args.model, threads=args.threads)
    for rate, rows in evaluation.study_rows(args):
        shares = open_vocab_signals(restorer, rows)
        print(json.dumps({"rate": rate, **{k: round(v, 4) for k, v in shares.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
