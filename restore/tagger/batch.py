"""Batching tagger inputs: :class:`restore.tagger.input.UnitInput` -> tensors.

Each unit carries its word pieces (encoded once, by :class:`restore.tagger.input.PieceEncoder`);
candidates are encoded here, through the encoder's bounded cache.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from restore.tagger.input import (
    CANDIDATE_FEATURES,
    MAX_CANDIDATE_PIECES,
    SITE_FEATURES,
    PieceEncoder,
    UnitInput,
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
    k_max = max((len(s.candidates) for _, s in sites), default=0) or 1
    n = len(sites)
    # Built as plain lists and numpy arrays, then one tensor each: element-wise tensor writes
    # cost a microsecond apiece, and a batch holds tens of thousands of candidates.
    distinct: dict[str, int] = {}
    cand_index = np.zeros((n, k_max), dtype=np.int64)
    cand_mask = np.zeros((n, k_max), dtype=bool)
    cand_features = np.zeros((n, k_max, CANDIDATE_FEATURES), dtype=np.float32)
    site_features = np.zeros((n, SITE_FEATURES), dtype=np.float32)
    sw_batch, sw_index, sw_site = [], [], []
    for i, (b, site) in enumerate(sites):
        site_features[i] = site.site_features
        width = site.last + 1 - site.first
        sw_batch.extend([b] * width)
        sw_index.extend(range(site.first, site.last + 1))
        sw_site.extend([i] * width)
        k = len(site.candidates)
        if k:
            cand_index[i, :k] = [distinct.setdefault(c, len(distinct)) for c in site.candidates]
            cand_mask[i, :k] = True
            cand_features[i, :k] = site.features
    piece_ids = np.full((max(len(distinct), 1), MAX_CANDIDATE_PIECES), pieces.pad_id, np.int64)
    piece_mask = np.zeros(piece_ids.shape, dtype=np.float32)
    for cand, row in distinct.items():
        ids = pieces.candidate(cand)
        piece_ids[row, : len(ids)] = ids
        piece_mask[row, : len(ids)] = 1.0
    site_batch = [b for b, _ in sites]
    site_word = [site.first for _, site in sites]
    return TaggerBatch(
        input_ids=input_ids,
        attention_mask=attention,
        word_pos=word_pos,
        word_mask=word_mask,
        site_batch=torch.tensor(site_batch, dtype=torch.long),
        site_word=torch.tensor(site_word, dtype=torch.long),
        site_features=torch.from_numpy(site_features),
        site_word_batch=torch.tensor(sw_batch, dtype=torch.long),
        site_word_index=torch.tensor(sw_index, dtype=torch.long),
        site_word_site=torch.tensor(sw_site, dtype=torch.long),
        pieces=torch.from_numpy(piece_ids),
        piece_mask=torch.from_numpy(piece_mask),
        cand_index=torch.from_numpy(cand_index),
        cand_mask=torch.from_numpy(cand_mask),
        cand_features=torch.from_numpy(cand_features),
    )
