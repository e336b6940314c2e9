"""What each signal adds to a tagger's choice of the original, at the spun sites whose original
is among the candidates (reachable sites), on spun pair rows.

Measured per row set, as shares of reachable sites where the original ranks first:

* ``network``: the shipped chooser (the encoder's view of the site plus the count evidence,
  read in the spun context);
* ``counts``: the trigram gain alone (the candidate the counts like best in the spun context);
* ``network_refined`` / ``counts_refined``: the same after the sure sites are put back
  (:meth:`restore.tagger.engine.TaggerEngine.refine`, at ``refine_above``);
* ``network_gold_context`` / ``counts_gold_context``: the same with every other swap of the
  unit put back to its true original: the most any restoration of the context could give.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from restore.tagger.input import refit_sites
from training.tagger.edit_rule import spun_units

SIGNALS = (
    "network",
    "counts",
    "network_refined",
    "counts_refined",
    "network_gold_context",
    "counts_gold_context",
)


def choice_signals(
    restorer, rows: Sequence[Mapping[str, Any]], *, refine_above: float = 0.5, batch: int = 32
) -> dict[str, float]:
    """The share of reachable sites each of :data:`SIGNALS` gets right, and ``reachable``."""
    engine = restorer.runtime.engine
    units, golds = zip(*spun_units(restorer, rows)) if rows else ((), ())
    right = dict.fromkeys(SIGNALS, 0)
    reachable = 0
    saved, engine.refine_above = engine.refine_above, refine_above
    try:
        for first in range(0, len(units), batch):
            chunk, gold_chunk = units[first : first + batch], golds[first : first + batch]
            word_probs, log_probs = engine.forward(chunk)
            at = 0
            for unit, gold, spins in zip(chunk, gold_chunk, word_probs):
                own = [log_probs[at + k][: len(s.candidates)] for k, s in enumerate(unit.sites)]
                at += len(unit.sites)
                refined_sites, refined = engine.refine(unit, spins, own)
                truth = {
                    k: gold[(s.start, s.end)]
                    for k, s in enumerate(unit.sites)
                    if (s.start, s.end) in gold
                }
                for k, site in enumerate(unit.sites):
                    original = truth.get(k)
                    if original not in site.candidates:
                        continue
                    reachable += 1
                    want = site.candidates.index(original)
                    context = {j: o for j, o in truth.items() if j != k}
                    (gold_site,) = refit_sites(
                        unit,
                        context,
                        [k],
                        engine.table,
                        lm=engine.lm,
                        context=engine.context,
                        max_candidates=engine.max_candidates,
                        trained_candidates=engine.trained_candidates,
                    )
                    old, new = engine._evidence([site.features, gold_site.features])
                    picks = {
                        "network": own[k],
                        "counts": site.features[:, 0],
                        "network_refined": refined[k],
                        "counts_refined": refined_sites[k].features[:, 0],
                        "network_gold_context": own[k] - old + new,
                        "counts_gold_context": gold_site.features[:, 0],
                    }
                    for name, scores in picks.items():
                        right[name] += int(np.argmax(scores) == want)
    finally:
        engine.refine_above = saved
    return {"reachable": reachable, **{k: v / max(reachable, 1) for k, v in right.items()}}
