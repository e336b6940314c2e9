"""The model's input and output format, and the settings file that pins it in a model directory.

Training builds (source, target) strings with :func:`encode_source` and :func:`make_target`;
inference builds the source the same way and turns the model's output back into text with
:func:`apply_target`. Both sides read the choices (prefix, target format, lengths,
segmentation) from ``restore.json`` in the model directory, so they cannot drift apart.

Four target formats:

* ``"text"``: the whole original unit.
* ``"edits"``: only what changed, as ``‖ spun ⇒ original`` items in input order; an empty
  target means "nothing to change". Every item starts with ``‖`` so that a decoder chooses
  between two single tokens (end, or one more item) rather than between the end and a spread of
  possible words, which greedy decoding resolves to "nothing" long before the model has stopped
  learning. Each item's left side is found in the input
  from the end of the previous item on, as whole tokens, so untouched text is copied from the
  input and cannot be damaged. Where the left side would be ambiguous, it carries the words
  before it as context.

* ``"choices"``: the source carries, after every word that our spinner plausibly wrote, a slot
  mark and that word's likely originals from the model's candidate table
  (:mod:`restore.candidates`): ``ejects⟦1⟧⟨1⟩ greets⟨2⟩ expels``. The target picks one
  choice per slot, ``⟦1⟧⟨1⟩`` (``⟨0⟩`` keeps the word). Marks touch the text before them
  because a mark after a space costs a second token (a lone "▁"). The model only classifies, which a
  small model learns in CPU hours where generating words from scratch was not learned at all;
  it can restore only words in the table, to one of the shown originals.
* ``"tags"``: the same slots and candidates, then a mark of how often the word was spinner
  output in the training data (``⟪9⟫``: at least 90%), then the slot mark
  (``ejects⟨1⟩ greets⟨2⟩ expels⟪9⟫⟦1⟧``). The decoder is not asked to generate: it reads the
  source again and, at each slot mark, predicts that slot's choice, all in one forward pass
  (``restore.backends.TorchGenerator.tag``). Looking a slot up across the encoder is what
  small models from scratch failed to learn in CPU hours; a decoder that sees the slot's own
  words just before the mark only has to judge them, with the encoder's view of the whole unit
  to help.

>>> s = ModelSettings(target_format="edits")
>>> make_target("He ejects the crowd.", "He greets the crowd.", s)
'‖ ejects ⇒ greets'
>>> apply_target("He ejects the crowd.", "‖ ejects ⇒ greets", s).text
'He greets the crowd.'
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

from restore.align import changed_blocks, split_blocks
from restore.candidates import CANDIDATES_FILE, CandidateTable, Match, match_case
from restore.text import Token, normalize, tokenize

FORMAT_VERSION = 2  # 2 added the "choices" and "tags" formats
SETTINGS_FILE = "restore.json"
TARGET_FORMATS = ("text", "edits", "choices", "tags")
SLOT_FORMATS = ("choices", "tags")  # the formats with a candidate table
ARROW = "⇒"
SEPARATOR = "‖"
EDIT_TOKENS = (ARROW, SEPARATOR)
MAX_SLOTS = 32
MAX_CHOICES = 5
SLOT_TOKENS = tuple(f"⟦{i}⟧" for i in range(1, MAX_SLOTS + 1))
CHOICE_TOKENS = tuple(f"⟨{j}⟩" for j in range(MAX_CHOICES + 1))
SHARE_TOKENS = tuple(f"⟪{k}⟫" for k in range(10))  # spun share 0-9%, 10-19%, ... 90-100%
# Every mark is a single token in our tokenizers (TokenizerConfig.extra_tokens).
FORMAT_TOKENS = EDIT_TOKENS + SLOT_TOKENS + CHOICE_TOKENS + SHARE_TOKENS
FORMAT_CHARS = frozenset("".join(FORMAT_TOKENS)) - set("0123456789")
CHOICE_RE = re.compile(r"⟦(\d+)⟧\s*⟨(\d+)⟩")


class ModelFormatError(ValueError):
    """A model directory's settings are missing, invalid, or from a newer format version."""


@dataclass(frozen=True)
class GuardSettings:
    """When a restored unit is not trusted and its input is kept instead."""

    min_confidence: float = 0.0  # mean token probability of the output, 0 disables
    min_edit_confidence: float = 0.0  # an edit less sure than this is not made, 0 disables
    max_length_ratio: float = 1.5  # restored/input word count outside [1/r, r] is rejected
    keep_numbers: bool = True  # a changed or dropped number rejects the unit
    keep_names: bool = True  # a changed mid-sentence capitalised word rejects the unit


@dataclass(frozen=True)
class ModelSettings:
    """The contents of ``restore.json``: everything inference must do as training did."""

    format_version: int = FORMAT_VERSION
    target_format: str = "text"
    prefix: str = ""
    max_source_tokens: int = 128
    max_target_tokens: int = 128
    segmentation: str = "passage"  # restore.text.segment's ``by``
    max_words: int = 48  # restore.text.segment's ``max_words``
    slots: int = 24  # choices/tags formats: most slots per unit
    choices: int = 3  # choices/tags formats: most candidates shown per slot
    guard: GuardSettings = dataclasses.field(default_factory=GuardSettings)
    versions: dict[str, str] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        if self.target_format not in TARGET_FORMATS:
            raise ModelFormatError(f"target_format must be one of {TARGET_FORMATS}")
        if self.segmentation not in ("passage", "sentence"):
            raise ModelFormatError("segmentation must be 'passage' or 'sentence'")
        if min(self.max_source_tokens, self.max_target_tokens, self.max_words) < 1:
            raise ModelFormatError("max_source_tokens, max_target_tokens, max_words must be >= 1")
        if not (1 <= self.slots <= MAX_SLOTS and 1 <= self.choices <= MAX_CHOICES):
            raise ModelFormatError(
                f"slots must lie in [1, {MAX_SLOTS}] and choices in [1, {MAX_CHOICES}]"
            )


def save_settings(settings: ModelSettings, model_dir: str | Path) -> Path:
    settings.validate()
    path = Path(model_dir) / SETTINGS_FILE
    path.write_text(json.dumps(dataclasses.asdict(settings), indent=2) + "\n", encoding="utf-8")
    return path


def load_settings(model_dir: str | Path) -> ModelSettings:
    """Read ``restore.json``; refuses unknown keys and format versions newer than this code."""
    path = Path(model_dir) / SETTINGS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ModelFormatError(f"{model_dir} is not a restore model: no {SETTINGS_FILE}") from err
    except (OSError, ValueError) as err:
        raise ModelFormatError(f"cannot read {path}: {err}") from err
    if not isinstance(data, dict):
        raise ModelFormatError(f"{path} must hold a JSON object")
    version = data.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFormatError(f"{path}: format_version must be a positive integer")
    if version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{path} has format version {version}, but this restore reads up to version "
            f"{FORMAT_VERSION}: upgrade restore to load this model"
        )
    try:
        guard = GuardSettings(**data.pop("guard", {}))
        settings = ModelSettings(**data, guard=guard)
    except TypeError as err:
        raise ModelFormatError(f"{path}: {err}") from err
    settings.validate()
    return settings


def format_marks(target_format: str) -> tuple[str, ...]:
    """The marks a target format writes, each of which must be a single token."""
    if target_format == "tags":
        return SLOT_TOKENS + CHOICE_TOKENS + SHARE_TOKENS
    if target_format == "choices":
        return SLOT_TOKENS + CHOICE_TOKENS
    return EDIT_TOKENS if target_format == "edits" else ()


def load_candidates(model_dir: str | Path, settings: ModelSettings) -> CandidateTable | None:
    """The model's candidate table (choices and tags formats; None for the others)."""
    if settings.target_format not in SLOT_FORMATS:
        return None
    path = Path(model_dir) / CANDIDATES_FILE
    try:
        return CandidateTable.load(path)
    except FileNotFoundError as err:
        raise ModelFormatError(
            f"{model_dir} uses the {settings.target_format} format but has no {path.name}"
        ) from err
    except (OSError, ValueError) as err:
        raise ModelFormatError(f"cannot read {path}: {err}") from err


def encode_source(
    unit: str, settings: ModelSettings, candidates: CandidateTable | None = None
) -> str:
    """The model input for one unit of text."""
    text = normalize(unit)
    if settings.target_format not in SLOT_FORMATS:
        return settings.prefix + text
    parts = []
    pos = 0
    for i, slot in enumerate(_slots(text, settings, candidates)):
        shown = "".join(f"{CHOICE_TOKENS[j]} {c}" for j, c in enumerate(slot.candidates, 1))
        if settings.target_format == "tags":
            share = SHARE_TOKENS[min(int(slot.share * 10), 9)]
            parts.append(f"{text[pos : slot.end]}{shown}{share}{SLOT_TOKENS[i]}")
        else:
            parts.append(f"{text[pos : slot.end]}{SLOT_TOKENS[i]}{shown}")
        pos = slot.end
    parts.append(text[pos:])
    return settings.prefix + "".join(parts)


def make_target(
    spun: str, original: str, settings: ModelSettings, candidates: CandidateTable | None = None
) -> str:
    """The training target for a (spun, original) unit pair."""
    spun, original = normalize(spun), normalize(original)
    if settings.target_format == "text":
        return original
    if settings.target_format == "edits":
        return format_edits(spun, original)
    a, b = tokenize(spun), tokenize(original)
    blocks = split_blocks(changed_blocks(a, b), a, b)
    first = {t.start: i for i, t in enumerate(a)}
    after = {t.end: i + 1 for i, t in enumerate(a)}
    items = []
    for i, slot in enumerate(_slots(spun, settings, candidates)):
        want = _original_of(first[slot.start], after[slot.end], blocks, original, b)
        j = slot.candidates.index(want) + 1 if want in slot.candidates else 0
        items.append(SLOT_TOKENS[i] + CHOICE_TOKENS[j])
    return "".join(items)


def _original_of(p: int, q: int, blocks, original: str, b: list[Token]) -> str | None:
    """What spun tokens ``p:q`` were in the original (lower case), or None when they were not
    changed or a change reaches outside them."""
    inside = [block for block in blocks if block[0] < q and p < block[1]]
    if not inside or inside[0][0] < p or inside[-1][1] > q:
        return None
    # Unchanged tokens around the changes inside the span map one to one.
    j_start = inside[0][2] - (inside[0][0] - p)
    j_end = inside[-1][3] + (q - inside[-1][1])
    return _span(original, b, j_start, j_end).lower()


@dataclass(frozen=True)
class Applied:
    """The text a target gives for a source, and how many target items could not be placed.

    ``placed`` maps each placed edit-list item to where it came from: ``(start, end, t_start,
    t_end)`` is the item's replacement at ``text[start:end]`` and the item itself at
    ``target[t_start:t_end]`` (empty for the text format), so a restored word can be traced to
    the output tokens that wrote it.
    """

    text: str
    failed_items: int = 0
    placed: tuple[tuple[int, int, int, int], ...] = ()


def apply_target(
    source: str, target: str, settings: ModelSettings, candidates: CandidateTable | None = None
) -> Applied:
    """Turn a model output back into restored text for ``source`` (the unit, without prefix)."""
    source = normalize(source)
    if settings.target_format == "text":
        return Applied(target)
    if settings.target_format == "edits":
        return apply_edits(source, target)
    return apply_choices(source, target, _slots(source, settings, candidates))


# -- the choices format ----------------------------------------------------------------------


def _slots(text: str, settings: ModelSettings, candidates: CandidateTable | None) -> list[Match]:
    if candidates is None:
        raise ModelFormatError(f"the {settings.target_format} format needs a candidate table")
    return [
        Match(m.start, m.end, m.candidates[: settings.choices], m.share)
        for m in candidates.match(text, limit=settings.slots)
    ]


def apply_choices(source: str, target: str, slots: list[Match]) -> Applied:
    """Replace each slot's words by the candidate the target picked for it.

    Items naming a slot that does not exist, or a slot a second time, are skipped and counted
    as failed; a choice that does not exist keeps the word.
    """
    picked: dict[int, tuple[int, int, int]] = {}
    failed = 0
    for item in CHOICE_RE.finditer(target):
        i, j = int(item[1]) - 1, int(item[2])
        if not 0 <= i < len(slots) or i in picked:
            failed += 1
            continue
        # A choice past the slot's candidates (a slot with fewer than were shown elsewhere)
        # keeps the word.
        picked[i] = (j if j <= len(slots[i].candidates) else 0, item.start(), item.end())
    parts = []
    placed = []
    pos = length = 0
    for i, (j, t_start, t_end) in sorted(picked.items()):
        if j == 0:
            continue
        slot = slots[i]
        word = match_case(source[slot.start : slot.end], slot.candidates[j - 1])
        parts.append(source[pos : slot.start])
        length += slot.start - pos
        parts.append(word)
        placed.append((length, length + len(word), t_start, t_end))
        length += len(word)
        pos = slot.end
    parts.append(source[pos:])
    return Applied("".join(parts), failed, tuple(placed))


# -- the edit-list format --------------------------------------------------------------------


def format_edits(spun: str, original: str) -> str:
    """Serialise the word-level differences between two normalised strings."""
    if any(mark in spun or mark in original for mark in EDIT_TOKENS):
        raise ValueError("text contains the edit-format marks ⇒ or ‖")
    a, b = tokenize(spun), tokenize(original)
    items = []
    cursor = 0  # token index in ``a`` after the previous item
    if not a and b:
        raise ValueError("an insertion into empty text cannot be written as an edit")
    for i1, i2, j1, j2 in changed_blocks(a, b):
        # Widen to the left until the left side's first occurrence from the cursor is this one.
        while i1 > cursor and _first_match(spun, a, cursor, _span(spun, a, i1, i2)) != i1:
            i1, j1 = i1 - 1, j1 - 1
        left, right = _span(spun, a, i1, i2), _span(original, b, j1, j2)
        items.append(f"{SEPARATOR} {left} {ARROW} {right}".rstrip())
        cursor = i2
    return " ".join(items)


def apply_edits(source: str, target: str) -> Applied:
    """Apply an edit list to the normalised source; items that cannot be placed are skipped."""
    tokens = tokenize(source)
    parts = []
    pos = 0  # character offset in source
    cursor = 0  # token index
    failed = 0
    placed = []
    length = 0  # characters in parts
    for t_start, t_end in _item_spans(target):
        item = target[t_start:t_end]
        left, arrow, right = item.partition(ARROW)
        left, right = left.strip(), right.strip()
        first = _first_match(source, tokens, cursor, left) if arrow and left else None
        if first is None:
            failed += 1
            continue
        last = first + len(tokenize(left))
        start, end = tokens[first].start, tokens[last - 1].end
        if not right:
            # A deleted span takes one neighbouring space with it: the one before it, or, when
            # it follows a non-space ("2-international mile"), the one after it.
            if start > pos and source[start - 1] == " ":
                start -= 1
            elif source[end : end + 1] == " ":
                end += 1
        parts.append(source[pos:start])
        parts.append(right)
        length += start - pos
        placed.append((length, length + len(right), t_start, t_end))
        length += len(right)
        pos, cursor = end, last
    parts.append(source[pos:])
    return Applied("".join(parts), failed, tuple(placed))


def _item_spans(target: str) -> list[tuple[int, int]]:
    """Spans of the non-empty, stripped items of an edit list."""
    spans = []
    start = 0
    for piece in target.split(SEPARATOR):
        end = start + len(piece)
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece) - len(piece.rstrip())
        if end - trail > start + lead:
            spans.append((start + lead, end - trail))
        start = end + len(SEPARATOR)
    return spans


def _span(text: str, tokens: list[Token], i1: int, i2: int) -> str:
    return text[tokens[i1].start : tokens[i2 - 1].end] if i2 > i1 else ""


def _first_match(text: str, tokens: list[Token], cursor: int, span: str) -> int | None:
    """Index of the first token, from ``cursor`` on, where ``span`` begins as whole tokens."""
    want = [t.text for t in tokenize(span)]
    n = len(want)
    if not n:
        return None
    for i in range(cursor, len(tokens) - n + 1):
        # Tokens must be spaced as in the span, not only equal ("a-b" vs "a - b").
        if (
            tokens[i].text == want[0]
            and [t.text for t in tokens[i : i + n]] == want
            and text[tokens[i].start : tokens[i + n - 1].end] == span
        ):
            return i
    return None
