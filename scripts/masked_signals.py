"""Does the encoder's view of the masked site choose better than its view of the spun word?

    python scripts/masked_signals.py --corpus ../shared/corpus --rate 0.1 0.3 0.5 \
        --max-paragraphs 500 --fit-paragraphs 4000 [--fit-offset 1000] [--min-spin 0.3]

A second forward pass reads each unit with the word pieces of every site the network thinks at
least ``--min-spin`` likely spun replaced by [MASK]. At those sites whose original is a
candidate, the frozen network's hidden vector of the site, unmasked and masked, feeds a residual
choose head: a linear map of the vector, against each candidate's mean word-piece embedding, added
to the network's log P(original | spun) (``unmasked``, ``masked``, ``both``), or scored alone
(``... alone``, no network term). Each head is fitted on ``--fit-paragraphs`` valid paragraphs
from ``--fit-offset`` on (a tenth of their sites held out to pick the epoch) and judged on the
first ``--max-paragraphs``; prints one JSON line per rate: how often each ranks the original
first. Valid split; never tune on test.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
from torch import nn

from restore import Restorer
from restore.tagger.batch import collate
from restore.tagger.input import MAX_CANDIDATE_PIECES
from training import evaluation
from training.tagger.edit_rule import spun_units

# Which hidden vectors each head reads, and whether the network's log P is added.
HEADS = {
    "unmasked": (("unmasked",), True),
    "masked": (("masked",), True),
    "both": (("unmasked", "masked"), True),
    "unmasked alone": (("unmasked",), False),
    "masked alone": (("masked",), False),
}


def site_views(restorer, rows, *, min_spin: float, batch: int = 32) -> dict[str, np.ndarray]:
    """Per reachable site the network thinks at least ``min_spin`` likely spun: its hidden
    vector unmasked and masked, the network's log P of each candidate slot, the candidates'
    word pieces, and the original's slot."""
    engine = restorer.runtime.engine
    model = engine.model
    mask_id = engine.pieces.tokenizer.token_to_id("[MASK]")
    if mask_id is None:
        raise SystemExit("the model's tokenizer has no [MASK] token")
    slots = engine.max_candidates
    found: dict[str, list] = {k: [] for k in ("unmasked", "masked", "log_p", "pieces", "want")}
    pairs = spun_units(restorer, rows)
    for first in range(0, len(pairs), batch):
        chunk = pairs[first : first + batch]
        units = [u for u, _ in chunk]
        tensors = collate(units, engine.pieces)
        flat = [(b, site) for b, unit in enumerate(units) for site in unit.sites]
        with torch.inference_mode():
            out, plain = _forward_keeping_hidden(model, tensors)
            spins = torch.sigmoid(out.word_logits).tolist()
            ids, chosen = masked_ids(units, tensors.input_ids, spins, min_spin, mask_id)
            masked = model.encoder(ids, tensors.attention_mask)
            log_p = torch.log_softmax(out.cand_logits, dim=-1)
        for s in chosen:
            b, site = flat[s]
            original = chunk[b][1].get((site.start, site.end))
            if original not in site.candidates:
                continue
            at = units[b].first_pieces[site.first]
            n = len(site.candidates)
            row = np.full(slots, -np.inf, np.float32)
            row[:n] = log_p[s, :n].numpy()
            pieces = np.zeros((slots, MAX_CANDIDATE_PIECES), np.int64)
            for j, ids_j in enumerate(engine.pieces.candidates(list(site.candidates))):
                pieces[j, : len(ids_j)] = ids_j
            found["unmasked"].append(plain[b, at].numpy())
            found["masked"].append(masked[b, at].numpy())
            found["log_p"].append(row)
            found["pieces"].append(pieces)
            found["want"].append(site.candidates.index(original))
    hidden = model.encoder.config.hidden_size
    empty = {"unmasked": (0, hidden), "masked": (0, hidden), "log_p": (0, slots)}
    empty |= {"pieces": (0, slots, MAX_CANDIDATE_PIECES), "want": (0,)}
    return {k: np.stack(v) if v else np.zeros(empty[k]) for k, v in found.items()}


def _forward_keeping_hidden(model, tensors):
    """The network's output and its encoder's hidden vectors, from one pass (not a second)."""
    kept = []
    hook = model.encoder.register_forward_hook(lambda _m, _i, hidden: kept.append(hidden))
    try:
        out = model(tensors)
    finally:
        hook.remove()
    return out, kept[0]


def masked_ids(units, input_ids, spins, min_spin: float, mask_id: int):
    """``input_ids`` with the word pieces of every site at least ``min_spin`` likely spun
    replaced by ``mask_id``, and those sites' indices among the batch's sites, in order."""
    ids = input_ids.clone()
    chosen = []
    flat = [(b, site) for b, unit in enumerate(units) for site in unit.sites]
    for s, (b, site) in enumerate(flat):
        if spins[b][site.first] < min_spin:
            continue
        firsts = units[b].first_pieces
        start = firsts[site.first]
        # Up to the next token's first piece, or the unit's final [SEP].
        end = firsts[site.last + 1] if site.last + 1 < len(firsts) else len(units[b].piece_ids) - 1
        ids[b, start : max(end, start + 1)] = mask_id
        chosen.append(s)
    return ids, chosen


class ResidualHead(nn.Module):
    """A linear map of the site's vectors, scored against each candidate's mean word-piece
    embedding (the network's own, frozen), plus the network's log P where ``residual``.
    Starts at zero, so a residual head starts as the network."""

    def __init__(self, width: int, embeddings: torch.Tensor, *, residual: bool):
        super().__init__()
        self.map = nn.Linear(width, embeddings.size(1))
        nn.init.zeros_(self.map.weight)
        nn.init.zeros_(self.map.bias)
        self.embeddings = embeddings
        self.residual = residual

    def forward(self, vectors, log_p, pieces):
        present = (pieces > 0).float()
        weights = present / present.sum(-1, keepdim=True).clamp(min=1)
        flat = pieces.reshape(-1, pieces.size(-1))
        candidates = nn.functional.embedding_bag(
            flat, self.embeddings, mode="sum", per_sample_weights=weights.reshape(flat.shape)
        ).reshape(*pieces.shape[:2], -1)
        scores = torch.einsum("skh,sh->sk", candidates, self.map(vectors))
        scores = scores / self.embeddings.size(1) ** 0.5
        empty = torch.isinf(log_p)
        return (
            log_p + scores.masked_fill(empty, 0)
            if self.residual
            else scores.masked_fill(empty, float("-inf"))
        )


def _tensors(views, keys):
    vectors = np.concatenate([views[k].astype(np.float32) for k in keys], axis=1)
    return [
        torch.from_numpy(np.ascontiguousarray(a))
        for a in (vectors, views["log_p"], views["pieces"], views["want"])
    ]


def _right(head, data, batch: int = 1024) -> torch.Tensor:
    vectors, log_p, pieces, want = data
    with torch.no_grad():
        picks = [
            head(*(t[i : i + batch] for t in (vectors, log_p, pieces))).argmax(-1)
            for i in range(0, len(want), batch)
        ]
    return torch.cat(picks) == want if picks else torch.zeros(0, dtype=torch.bool)


def fit_head(views, keys, embeddings, *, residual: bool, epochs: int = 6, seed: int = 0):
    """A :class:`ResidualHead` fitted on ``views`` (AdamW, batches of 256), at the epoch whose
    held-out tenth ranks the original first most often."""
    generator = torch.Generator().manual_seed(seed)
    data = _tensors(views, keys)
    order = torch.randperm(len(data[3]), generator=generator)
    held = [t[order[: len(order) // 10]] for t in data]
    train = [t[order[len(order) // 10 :]] for t in data]
    head = ResidualHead(data[0].size(1), embeddings, residual=residual)
    optimizer = torch.optim.AdamW(head.map.parameters(), lr=1e-3, weight_decay=0.01)
    best, state = 0.0, None
    for _ in range(epochs):
        for step in torch.randperm(len(train[3]), generator=generator).split(256):
            logits = head(*(t[step] for t in train[:3]))
            loss = nn.functional.cross_entropy(logits, train[3][step])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        score = _right(head, held).float().mean().item()
        if state is None or score > best:
            best, state = score, {k: v.clone() for k, v in head.map.state_dict().items()}
    head.map.load_state_dict(state)
    return head


def masked_signals(restorer, fit_rows, judged: dict, *, min_spin: float, epochs: int, seed: int):
    """Per rate of ``judged`` (rate -> pair rows), the share of sites whose original each head
    ranks first (``network`` is the network alone), heads fitted on ``fit_rows``' sites."""
    embeddings = restorer.runtime.engine.model.embeddings.weight.detach()
    fit = site_views(restorer, fit_rows, min_spin=min_spin)
    views = {rate: site_views(restorer, rows, min_spin=min_spin) for rate, rows in judged.items()}
    found = {rate: {"sites": len(v["want"])} for rate, v in views.items()}
    for rate, v in views.items():
        if len(v["want"]):
            found[rate]["network"] = float(np.mean(v["log_p"].argmax(1) == v["want"]))
    if not len(fit["want"]):
        return found
    for name, (keys, residual) in HEADS.items():
        head = fit_head(fit, keys, embeddings, residual=residual, epochs=epochs, seed=seed)
        for rate, v in views.items():
            if len(v["want"]):
                found[rate][name] = _right(head, _tensors(v, keys)).float().mean().item()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    evaluation.add_study_arguments(parser)
    parser.add_argument("--fit-paragraphs", type=int, default=4000)
    parser.add_argument("--fit-offset", type=int, default=1000)
    parser.add_argument("--min-spin", type=float, default=0.3)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)
    if args.fit_offset < args.max_paragraphs:
        parser.error("--fit-offset must not be below --max-paragraphs: fit and judge apart")
    restorer = Restorer.from_pretrained(args.model, threads=args.threads)
    stop = args.fit_offset + args.fit_paragraphs
    paragraphs = evaluation.select_paragraphs(args.corpus, args.split, max_paragraphs=stop)
    fit_rows = [
        row
        for rate in args.rate
        for row in evaluation.spin_paragraphs(
            paragraphs[args.fit_offset :], rate=rate, seed=args.seed
        )
    ]
    judged = {
        rate: evaluation.spin_paragraphs(
            paragraphs[: args.max_paragraphs], rate=rate, seed=args.seed
        )
        for rate in args.rate
    }
    found = masked_signals(
        restorer, fit_rows, judged, min_spin=args.min_spin, epochs=args.epochs, seed=args.seed
    )
    for rate, shares in found.items():
        print(json.dumps({"rate": rate, **{k: round(v, 4) for k, v in shares.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
