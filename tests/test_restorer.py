"""The Restorer's contracts: order, pass-through, byte-exact reassembly, the guard, long units."""

from __future__ import annotations

import itertools
import math
import re

import pytest
from conftest import assert_in_place, fixture_texts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from restore import Restorer
from restore.backends import Generation
from restore.settings import GuardSettings
from restore.text import normalize, tokenize

SWAPS = {"ejects": "greets", "big": "large", "dog": "hound", "quick": "fast"}
_SWAP_RE = re.compile(r"\b(" + "|".join(SWAPS) + r")\b")
NO_GUARD = GuardSettings(max_length_ratio=1e9, keep_numbers=False, keep_names=False)
_suite = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def swap(source: str) -> str:
    return _SWAP_RE.sub(lambda m: SWAPS[m.group()], source)


def test_edits_replace_words_and_keep_every_other_byte(stub_restorer):
    restorer = stub_restorer(swap)
    text = (
        "  The big\u00a0dog — “quick”,\tthen   ejects it.\r\n\r\n"
        "Zoë’s big café:  (dog)!\n\n\n  Done.  \n"
    )
    expected = swap(text)
    result = restorer.restore_detailed(text)
    assert result.text == expected
    assert [(e.spun, e.restored) for e in result.edits] == [
        ("big", "large"),
        ("dog", "hound"),
        ("quick", "fast"),
        ("ejects", "greets"),
        ("big", "large"),
        ("dog", "hound"),
    ]
    for edit in result.edits:
        assert text[edit.start : edit.end] == edit.spun
        assert 0.0 <= edit.confidence <= 1.0
    assert {u.status for u in result.units} == {"restored", "unchanged"}


_WORDS = st.sampled_from(["the", "big", "dog", "ejects", "quick", "Smith", "café", "9", "a"])
_GAPS = st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", "\r\n", "\n\n", " \n \n "])
_PUNCT = st.sampled_from(["", "", ",", ".", ";", ":", "!", "?", "“", "”", "(", ")", "—", "'"])


@st.composite
def _documents(draw):
    parts = [draw(st.sampled_from(["", " ", "\n", "  "]))]
    for _ in range(draw(st.integers(1, 40))):
        parts += [draw(_PUNCT), draw(_WORDS), draw(_PUNCT), draw(_GAPS)]
    return "".join(parts)


@_suite
@given(_documents())
def test_property_formatting_around_edits_is_byte_identical(stub_restorer, text):
    restorer = stub_restorer(swap, guard=NO_GUARD)
    assert restorer.restore(text) == swap(text)


def test_text_the_tokenizer_cannot_round_trip_is_skipped(stub_restorer):
    # "▁" is sentencepiece's space marker: it decodes as a space, so the unit is never sent.
    result = stub_restorer(lambda s: s.replace("fete", "party")).restore_detailed("a ▁ fete")
    assert result.text == "a ▁ fete" and result.edits == ()
    assert [(u.status, u.reasons) for u in result.units] == [("skipped", ("unrepresentable",))]


def test_lone_surrogates_pass_through_unchanged(stub_restorer):
    # As Python decodes undecodable bytes with "surrogateescape": no tokenizer takes them.
    text = "It ejects \udcff them.\n\nIt ejects them."
    result = stub_restorer(swap, guard=NO_GUARD).restore_detailed(text)
    assert result.text == "It ejects \udcff them.\n\nIt greets them."
    assert result.units[0].reasons == ("unrepresentable",)


@_suite
@given(st.text(max_size=300))
def test_property_identity_model_returns_any_input_unchanged(stub_restorer, text):
    result = stub_restorer(lambda s: s).restore_detailed(text)
    assert result.text == text and result.edits == ()


@_suite
@given(_documents(), st.randoms(use_true_random=False))
def test_property_any_output_changes_text_only_inside_edits(stub_restorer, text, rng):
    def scramble(source: str) -> str:
        words = source.split(" ")
        rng.shuffle(words)
        return " ".join(words[: max(1, len(words) - 1)])

    result = stub_restorer(scramble, guard=NO_GUARD).restore_detailed(text)
    pieces, pos = [], 0
    for edit in result.edits:
        assert edit.start >= pos and text[edit.start : edit.end] == edit.spun
        pieces += [text[pos : edit.start], edit.restored]
        pos = edit.end
    assert result.text == "".join(pieces) + text[pos:]


@pytest.mark.parametrize("text", ["", " ", "\n\n\t  \r\n", "\u00a0\u2003"])
def test_empty_and_whitespace_input_comes_back_without_a_model_call(stub_restorer, text):
    restorer = stub_restorer(swap)
    assert restorer.restore(text) == text
    assert restorer.restore_batch([text, text]) == [text, text]
    assert restorer.restore_detailed(text).units == ()
    assert restorer.runtime.batches == []


def test_deletions_and_insertions_take_one_gap_with_them(stub_restorer):
    def rewrite(source):
        return source.replace("very ", "").replace("the hill", "up the hill")

    restorer = stub_restorer(rewrite, guard=NO_GUARD)
    assert restorer.restore("It is  very\tgood.") == "It is\tgood."
    assert restorer.restore("Climb the hill.") == "Climb up the hill."
    result = restorer.restore_detailed("A very-big very dog.")
    assert result.text == "A very-big dog."


def test_batch_order_count_and_determinism(tiny_model, tiny_restorer):
    texts = fixture_texts()[:12]
    batch = tiny_restorer.restore_batch(texts)
    assert len(batch) == len(texts)
    assert batch == [tiny_restorer.restore(t) for t in texts]
    # A fresh load gives byte-identical results, confidences included.
    reference = [r.to_dict() for r in tiny_restorer.restore_detailed_iter(texts)]
    fresh = Restorer.from_pretrained(tiny_model, threads=1)
    assert [r.to_dict() for r in fresh.restore_detailed_iter(texts)] == reference
    # Another batch size pads differently: the same outputs, confidences equal to float noise.
    other = Restorer.from_pretrained(tiny_model, threads=1, batch_size=3)
    for got, want in zip(other.restore_detailed_iter(texts), reference):
        assert got.text == want["text"]
        for unit, expected in zip(got.units, want["units"]):
            assert (unit.status, unit.proposal) == (expected["status"], expected["proposal"])
            assert unit.confidence == pytest.approx(expected["confidence"], abs=1e-4)


def test_restore_iter_streams_and_keeps_order(stub_restorer):
    restorer = stub_restorer(swap, batch_size=2)
    pulled = []

    def documents():
        for i in itertools.count():
            pulled.append(i)
            yield f"Doc {i}: the big dog."

    first = list(itertools.islice(restorer.restore_iter(documents()), 5))
    assert first == [f"Doc {i}: the large hound." for i in range(5)]
    assert len(pulled) <= restorer.read_ahead + 5  # read a window ahead, not the whole stream


def test_inputs_must_be_strings(stub_restorer):
    restorer = stub_restorer(swap)
    with pytest.raises(TypeError):
        restorer.restore_batch("one string")
    with pytest.raises(TypeError):
        restorer.restore(b"bytes")
    with pytest.raises(TypeError):
        restorer.restore_batch(["ok", None])


@pytest.mark.parametrize(
    "write, text, reason",
    [
        (lambda s: s.replace("40", "14"), "He paid 40 dollars for the big dog.", "number_changed"),
        (lambda s: s.replace("40 ", ""), "He paid 40 dollars for the big dog.", "number_changed"),
        (lambda s: s + " 7", "He paid for the big dog.", "number_changed"),
        (
            lambda s: s.replace("Smith", "Smyth"),
            "We met Smith and the big dog.",
            "name_changed",
        ),
        (lambda s: s.replace("dog", "dog " * 8), "We met the big dog.", "length_ratio"),
        (lambda s: "dog", "We met the big dog at noon today.", "length_ratio"),
    ],
)
def test_guard_keeps_the_input_of_a_harmful_unit(stub_restorer, write, text, reason):
    result = stub_restorer(write).restore_detailed(text)
    assert result.text == text and result.edits == ()
    (unit,) = result.units
    assert unit.status == "rejected" and reason in unit.reasons
    assert unit.proposal == normalize(write(normalize(text)))


def test_guard_confidence_threshold_and_overrides(stub_restorer):
    text = "The big dog."
    low = stub_restorer(swap, prob=0.2, guard={"min_confidence": 0.5})
    result = low.restore_detailed(text)
    assert result.text == text and result.units[0].reasons == ("low_confidence",)
    assert result.units[0].confidence == pytest.approx(0.2)
    assert stub_restorer(swap, prob=0.6, guard={"min_confidence": 0.5}).restore(text) == swap(text)
    with pytest.raises(ValueError, match="guard"):
        stub_restorer(swap, guard={"min_confidence": 2.0})
    with pytest.raises(ValueError, match="unknown guard"):
        stub_restorer(swap, guard={"no_such_threshold": 1})


def test_unfinished_output_is_rejected(stub_restorer):
    restorer = stub_restorer(swap)
    inner = restorer.runtime

    class Unfinished:
        def generate(self, batch):
            return [Generation(g.token_ids, g.log_probs[:-1], False) for g in inner.generate(batch)]

    restorer.runtime = Unfinished()
    result = restorer.restore_detailed("The big dog.")
    assert result.text == "The big dog." and result.units[0].reasons == ("unfinished",)


def test_edits_format_applies_items_and_rejects_unplaceable_ones(stub_restorer):
    good = stub_restorer(lambda s: "ejects ⇒ greets ‖ big ⇒ large", target_format="edits")
    text = "He  ejects the\nbig crowd."
    result = good.restore_detailed(text)
    assert result.text == "He  greets the\nlarge crowd."
    assert [(e.spun, e.restored) for e in result.edits] == [("ejects", "greets"), ("big", "large")]
    empty = stub_restorer(lambda s: "", target_format="edits").restore_detailed(text)
    assert empty.text == text and empty.units[0].status == "unchanged"
    bad = stub_restorer(lambda s: "ejects ⇒ greets ‖ nowhere ⇒ x", target_format="edits")
    result = bad.restore_detailed(text)
    assert result.text == text and result.units[0].reasons == ("unplaced_edits",)


def test_edit_confidence_is_the_lowest_probability_of_its_output_tokens(stub_restorer):
    restorer = stub_restorer(swap)
    tokenizer = restorer.encoder

    class Scored:
        def generate(self, batch):
            out = []
            for ids in batch:
                source = tokenizer.decode(list(ids), skip_special_tokens=True)
                target = swap(source)
                ids = tokenizer.encode(target).ids[:-1]
                greets = target.index("greets")
                probs = []
                for k in range(len(ids)):
                    end = len(tokenizer.decode(ids[: k + 1], skip_special_tokens=True))
                    start = len(tokenizer.decode(ids[:k], skip_special_tokens=True))
                    probs.append(0.3 if start < greets + 6 and end > greets else 0.95)
                out.append(Generation(tuple(ids), tuple(map(math.log, probs + [0.95])), True))
            return out

    restorer.runtime = Scored()
    result = restorer.restore_detailed("He ejects the big crowd.")
    confidence = {e.restored: e.confidence for e in result.edits}
    assert confidence["greets"] == pytest.approx(0.3)
    assert confidence["large"] == pytest.approx(0.95)
    assert 0.3 < result.units[0].confidence < 0.95


def test_units_too_long_for_the_model_are_cut_or_kept(stub_restorer):
    restorer = stub_restorer(swap, max_source_tokens=24)
    text = "The big dog ran, and the big dog sat, and the quick dog ate. " * 3
    result = restorer.restore_detailed(text)
    assert result.text == swap(text)
    sources = [s for batch in restorer.runtime.batches for s in batch]
    assert all(len(restorer.encoder.encode(s).ids) <= 24 for s in sources)
    assert len(sources) > len(result.units) / 2 > 1
    giant = "x" * 500
    result = restorer.restore_detailed(f"The big dog {giant} ran.")
    assert giant in result.text
    assert any(u.status == "skipped" and u.reasons == ("source_too_long",) for u in result.units)


def test_hundred_thousand_words_in_bounded_memory(stub_restorer):
    import tracemalloc

    paragraph = " ".join(fixture_texts())
    text = "\n\n".join([paragraph] * (100_000 // len(paragraph.split()) + 1))
    assert len(text.split()) >= 100_000
    restorer = stub_restorer(lambda s: s, batch_size=64)
    tracemalloc.start()
    try:
        out = restorer.restore(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out == text
    # The document itself and one report per unit; no per-token state kept across windows.
    assert peak < 60 * len(text.encode("utf-8")), peak


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Der schnelle braune Fuchs springt über den faulen Hund. Ça va très bien, merci.",
        "東京は日本の首都です。 Москва — столица России. القاهرة عاصمة مصر.",
        "Great news 🎉🎉 for the team 👍🏽 — see you at 10:30 😀!",
        '<p class="x">The <b>big</b> dog &amp; the cat.</p>\n<br/><script>alert(1)</script>',
        "\x00\x01\x02 binary-ish \ufffd\ufffe text \x7f\u200b\u202e mixed",
        "e\u0301 vs é, \u212b vs Å, ﬁ ligature",
    ],
)
def test_bad_input_matrix_with_the_tiny_model(tiny_restorer, stub_restorer, text):
    result = tiny_restorer.restore_detailed(text)
    assert_in_place(text, result)
    assert len(tokenize(result.text)) > 0 or not text.strip()
    assert stub_restorer(lambda s: s).restore(text) == text


def test_one_megabyte_single_line(stub_restorer):
    line = ("the big dog, " * 80_000)[:1_000_000]
    assert stub_restorer(lambda s: s, batch_size=64).restore(line) == line
    solid = "a" * 1_000_000  # one "word" far beyond the model's input length
    assert stub_restorer(swap).restore(solid) == solid


def test_edits_below_min_edit_confidence_are_withheld(stub_restorer):
    text = "The big dog."
    unsure = stub_restorer(swap, prob=0.4, guard={"min_edit_confidence": 0.5})
    result = unsure.restore_detailed(text)
    assert result.text == text and result.edits == ()
    assert result.units[0].status == "unchanged"
    assert result.units[0].reasons == ("low_edit_confidence",)
    assert result.units[0].proposal == swap(text)
    sure = stub_restorer(swap, prob=0.6, guard={"min_edit_confidence": 0.5})
    assert sure.restore(text) == swap(text)
    with pytest.raises(ValueError, match="min_edit_confidence"):
        stub_restorer(swap, guard={"min_edit_confidence": -0.1})


def test_withheld_edits_are_suggested_down_to_their_threshold(stub_restorer):
    text = "The big  dog."
    unsure = stub_restorer(swap, prob=0.4, guard={"min_edit_confidence": 0.5})
    result = unsure.restore_detailed(text)
    assert result.text == text and result.edits == ()
    loose = stub_restorer(swap, prob=0.4, guard={"min_edit_confidence": 0.0})
    changed = loose.restore_detailed(text).edits
    assert result.suggestions == changed and changed
    assert [text[s.start : s.end] for s in result.suggestions] == [s.spun for s in changed]
    quiet = stub_restorer(
        swap, prob=0.4, guard={"min_edit_confidence": 0.5, "min_suggestion_confidence": 0.45}
    )
    assert quiet.restore_detailed(text).suggestions == ()
    assert (
        stub_restorer(swap, prob=0.6, guard={"min_edit_confidence": 0.5})
        .restore_detailed(text)
        .suggestions
        == ()
    )
    with pytest.raises(ValueError, match="min_suggestion_confidence"):
        stub_restorer(swap, guard={"min_suggestion_confidence": 1.5})
