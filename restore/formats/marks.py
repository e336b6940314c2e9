"""The marks our formats write: every one is a single token in our tokenizers.

:data:`FORMAT_TOKENS` is the inventory a tokenizer trained by ``training.tokenizer`` reserves
by default; each format declares the marks it uses (``Format.marks``). A format with marks of
its own adds them to ``tokenizer.extra_tokens`` in its experiment config.
"""

from __future__ import annotations

ARROW = "⇒"
SEPARATOR = "‖"
EDIT_TOKENS = (ARROW, SEPARATOR)
MAX_SLOTS = 32
MAX_CHOICES = 5
SLOT_TOKENS = tuple(f"⟦{i}⟧" for i in range(1, MAX_SLOTS + 1))
CHOICE_TOKENS = tuple(f"⟨{j}⟩" for j in range(MAX_CHOICES + 1))
SHARE_TOKENS = tuple(f"⟪{k}⟫" for k in range(10))  # spun share 0-9%, 10-19%, ... 90-100%
FORMAT_TOKENS = EDIT_TOKENS + SLOT_TOKENS + CHOICE_TOKENS + SHARE_TOKENS
# Training drops pairs whose text holds one of these characters: it could not be told apart
# from a mark.
FORMAT_CHARS = frozenset("".join(FORMAT_TOKENS)) - set("0123456789")
