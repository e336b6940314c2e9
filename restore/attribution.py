"""Token-level confidence: which output tokens wrote an edit, and how sure the model was of them.

An edit's confidence is the lowest probability among the output tokens that wrote it. Offsets of
the tokens in the decoded output come from decoding each token after a fixed anchor, or, where
byte-fallback pieces do not decode alone, from decoding growing prefixes. The format says which
character ranges of the output wrote each change (``Format.output_regions``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from restore.backends import Generation

Span = tuple[int, int, float]  # start, end, probability of one output token


class Attribution:
    """Token offsets and probabilities of outputs decoded by ``tokenizer`` (a ``tokenizers``
    Tokenizer)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def token_spans(self, generation: Generation, output: str) -> list[Span]:
        """``(start, end, probability)`` of each output token in ``output``, the end token
        last, just past the text. A token that only completes a character (byte fallback)
        gets an empty span."""
        ids = list(generation.token_ids)
        probs = [math.exp(lp) for lp in generation.log_probs]
        spans = []
        pos = 0
        for end, prob in zip(self._token_ends(ids, output), probs):
            spans.append((pos, end, prob))
            pos = end
        if generation.finished and len(probs) > len(ids):
            spans.append((len(output), len(output) + 1, probs[len(ids)]))
        return spans

    def _token_ends(self, ids: list[int], output: str) -> list[int]:
        """End offset in ``output`` of each token of ``ids``.

        Fast path: decode every token after a fixed anchor token (so the decoder's handling of
        a leading space is the same for all) and check that the pieces add up to ``output``.
        Byte-fallback pieces do not decode alone; then decode growing prefixes instead.
        """
        anchor = self._anchor
        width = len(self.tokenizer.decode(anchor, skip_special_tokens=True))
        # Plain loops rather than decode_batch/encode_batch: these are short, and the batch
        # calls' thread-pool handoff costs more than the work on a busy machine.
        decode = self.tokenizer.decode
        pieces = [decode([*anchor, i], skip_special_tokens=True)[width:] for i in ids]
        joined = "".join(pieces)
        # The decoder drops the space a text starts with (SentencePiece's dummy prefix).
        skip = len(joined) - len(output)
        if joined.endswith(output) and joined[:skip].isspace():
            ends, pos = [], -skip
            for piece in pieces:
                pos += len(piece)
                ends.append(max(pos, 0))
            return ends
        prefixes = [decode(ids[: k + 1], skip_special_tokens=True) for k in range(len(ids))]
        ends, pos = [], 0
        for prefix in prefixes:
            # A prefix cut inside a character's bytes decodes to U+FFFD and is no prefix.
            if len(prefix) >= pos and output.startswith(prefix):
                pos = len(prefix)
            ends.append(pos)
        return ends

    @functools.cached_property
    def _anchor(self) -> list[int]:
        return self.tokenizer.encode("x", add_special_tokens=False).ids


def lowest(spans: Sequence[Span], region: Sequence[tuple[int, int]], fallback: float) -> float:
    """The lowest probability of the tokens that overlap ``region`` (``fallback`` if none).

    >>> lowest([(0, 3, 0.9), (3, 6, 0.4), (6, 7, 0.8)], [(0, 4)], 1.0)
    0.4
    """
    probs = [p for s, e, p in spans if s < e and any(s < r1 and r0 < e for r0, r1 in region)]
    return min(probs) if probs else fallback
