"""Batching tagger inputs: :class:`restore.tagger.input.UnitInput` -> tensors.

Each unit carries its word pieces (encoded once, by :class:`restore.tagger.input.PieceEncoder`);
candidates are encoded here, through the encoder's bounded cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
import torch

from restore.tagger.input import (
    CANDIDATE_FEATURES,
    MAX_CANDIDATE_PIECES,
    SITE_FEATURES,
    PieceEncoder,
    UnitInput,
    run_positions,
)
from restore.tagger.model import TaggerBatch


def collate(units: Sequence[UnitInput], pieces: PieceEncoder) -> TaggerBatch:
    """The tensors of a batch of units (every site and candidate included)."""
    encoded = [(u.piece_ids, u.first_pieces) for u in units]
    length = max(len(ids) for ids, _ in encoded)
    words = max((len(u.tokens) for u in units), default=0) or 1
    input_ids = torch.full((len(units), length), pieces.pad_id, dtype=torch.long)
    attention = torch.zeros((len(units), length), dtype=torch.long)
    word_pos = torch.zeros((len(units), words), dtype=torch.long)
    word_mask = torch.zeros((len(units), words), dtype=torch.bool)
    for b, (ids, first) in enumerate(encoded):
        input_ids[b, : len(ids)] = torch.tensor(ids)
        attention[b, : len(ids)] = 1
        word_pos[b, : len(first)] = torch.tensor(first, dtype=torch.long)
        word_mask[b, : len(first)] = True
    sites = [(b, s) for b, u in enumerate(units) for s in u.sites]
    n = len(sites)
    # Built from whole arrays, never candidate by candidate: element-wise writes cost a
    # microsecond apiece, and a batch holds tens of thousands of candidates.
    counts = np.array([len(s.candidates) for _, s in sites], dtype=np.int64)
    k_max = int(counts.max(initial=0)) or 1
    cand_mask = np.arange(k_max) < counts[:, None]
    cand_index = np.zeros((n, k_max), dtype=np.int64)
    cand_features = np.zeros((n, k_max, CANDIDATE_FEATURES), dtype=np.float32)
    site_features = np.zeros((n, SITE_FEATURES), dtype=np.float32)
    texts: list[str] = []
    distinct = np.zeros(0, dtype=np.int64)
    if n:
        site_features[:] = np.stack([s.site_features for _, s in sites])
    if counts.sum():
        # Each distinct candidate (by its id in the table) is embedded once for the batch.
        ids = np.concatenate([s.candidate_ids for _, s in sites])
        distinct, cand_index[cand_mask] = np.unique(ids, return_index=True, return_inverse=True)[1:]
        cand_features[cand_mask] = np.concatenate([s.features for _, s in sites])
        texts = list(chain.from_iterable(s.candidates for _, s in sites))
    piece_ids = np.full((max(len(distinct), 1), MAX_CANDIDATE_PIECES), pieces.pad_id, np.int64)
    piece_mask = np.zeros(piece_ids.shape, dtype=np.float32)
    for row, cand_pieces in enumerate(pieces.candidates([texts[at] for at in distinct.tolist()])):
        piece_ids[row, : len(cand_pieces)] = cand_pieces
        piece_mask[row, : len(cand_pieces)] = 1.0
    site_batch = np.array([b for b, _ in sites], dtype=np.int64)
    site_word = np.array([s.first for _, s in sites], dtype=np.int64)
    width = np.array([s.last + 1 - s.first for _, s in sites], dtype=np.int64)
    sw_index = run_positions(site_word, width)
    return TaggerBatch(
        input_ids=input_ids,
        attention_mask=attention,
        word_pos=word_pos,
        word_mask=word_mask,
        site_batch=torch.from_numpy(site_batch),
        site_word=torch.from_numpy(site_word),
        site_features=torch.from_numpy(site_features),
        site_word_batch=torch.from_numpy(np.repeat(site_batch, width)),
        site_word_index=torch.from_numpy(sw_index),
        site_word_site=torch.from_numpy(np.repeat(np.arange(n, dtype=np.int64), width)),
        pieces=torch.from_numpy(piece_ids),
        piece_mask=torch.from_numpy(piece_mask),
        cand_index=torch.from_numpy(cand_index),
        cand_mask=torch.from_numpy(cand_mask),
        cand_features=torch.from_numpy(cand_features),
    )
