"""Fitting a tagger's learned choice rule (:mod:`restore.tagger.choice_rule`) on spun text.

Every swap whose original is among its site's candidates is an example: the rule's features of
each candidate, and which one the spinner replaced. The rule is a conditional logit (a softmax
over the site's candidates), fitted by maximum likelihood with a small L2 penalty that pulls
it towards trusting the network alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from restore.tagger.choice_rule import FEATURES, ChoiceRule, features
from training.tagger.edit_rule import gold_swaps


def choice_examples(
    restorer, rows: Sequence[Mapping[str, Any]], *, batch_size: int = 32
) -> list[tuple[np.ndarray, int]]:
    """``(features, index of the original)`` of every swap on pair ``rows`` (as
    ``training.evaluation.spin_paragraphs`` makes them) whose original is a candidate, with the
    network's own choice probabilities (never a choice rule's)."""
    engine = restorer.runtime.engine
    units, golds = [], []
    for row in rows:
        gold = gold_swaps(row)
        if not gold:
            continue
        for start, end in restorer.unit_spans(row["spun"]):
            units.append(engine.encode_text(row["spun"][start:end]))
            golds.append((start, gold))
    examples = []
    for first in range(0, len(units), batch_size):
        chunk = units[first : first + batch_size]
        _, log_probs = engine.forward(chunk)
        sites = [
            (site, start, gold)
            for unit, (start, gold) in zip(chunk, golds[first : first + batch_size])
            for site in unit.sites
        ]
        for (site, start, gold), site_log_probs in zip(sites, log_probs):
            original = gold.get((start + site.start, start + site.end))
            if original in site.candidates:
                log_p = site_log_probs[: len(site.candidates)]
                rows_ = features(log_p, engine.relations(site), site.features)
                examples.append((rows_, site.candidates.index(original)))
    return examples


def fit_choice_rule(examples: Sequence[tuple[np.ndarray, int]], *, l2: float = 1e-3) -> ChoiceRule:
    """The :class:`ChoiceRule` most likely to pick the originals of ``examples``; the penalty
    ``l2`` pulls its weights towards the network alone (1 on ``log_choice``, 0 elsewhere)."""
    import torch

    if not examples:
        raise ValueError("a choice rule needs swaps whose original is a candidate")
    width = max(len(f) for f, _ in examples)
    x = torch.zeros(len(examples), width, len(FEATURES), dtype=torch.float64)
    mask = torch.zeros(len(examples), width, dtype=torch.bool)
    for i, (f, _) in enumerate(examples):
        x[i, : len(f)] = torch.from_numpy(f)
        mask[i, : len(f)] = True
    target = torch.tensor([k for _, k in examples])
    prior = torch.zeros(len(FEATURES), dtype=torch.float64)
    prior[0] = 1.0
    w = prior.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        scores = (x @ w).masked_fill(~mask, float("-inf"))
        chosen = torch.log_softmax(scores, dim=1).gather(1, target[:, None])
        loss = -chosen.mean() + l2 * ((w - prior) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return ChoiceRule(FEATURES, tuple(w.detach().tolist()))


def choice_accuracy(rule: ChoiceRule | None, examples: Sequence[tuple[np.ndarray, int]]) -> float:
    """How often ``rule`` (None: the network alone) ranks the original first."""
    if not examples:
        return 0.0
    weights = np.asarray(rule.weights) if rule is not None else np.eye(len(FEATURES))[0]
    return float(np.mean([int(np.argmax(f @ weights)) == k for f, k in examples]))
