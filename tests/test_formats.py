"""Formats as registered classes, the backends they need, and a tiny model of every format."""

from __future__ import annotations

import re

import pytest
from conftest import TINY_TABLE, assert_in_place, fixture_texts, model_settings

from restore import BackendError, Restorer
from restore.backends import Generator, SlotTagger, TorchGenerator, UnitScorer
from restore.candidates import CandidateTable, match_case
from restore.export import export_ctranslate2
from restore.formats import format_names, get_format, registry
from restore.formats.base import Format
from restore.formats.marks import FORMAT_TOKENS
from restore.formats.seq2seq import Applied, Seq2SeqFormat
from restore.formats.tags import TagsFormat
from restore.settings import ModelFormatError, ModelSettings
from restore.text import normalize
from training.format_hooks import IGNORE, hooks_for

MODELS = {
    "text": "tiny_model",
    "edits": "tiny_edits_model",
    "choices": "tiny_choices_model",
    "tags": "tiny_tags_model",
}
PARAGRAPHS = [p for text in fixture_texts()[:3] for p in text.split("\n\n")][:8]


def test_every_format_is_registered_with_marks_from_the_inventory():
    assert format_names() == ("choices", "edits", "tagger", "tags", "text")
    for name in format_names():
        cls = get_format(name)
        assert cls.name == name and issubclass(cls, Format)
        assert set(getattr(cls, "marks", ())) <= set(FORMAT_TOKENS)
    assert get_format("tags").runtime is SlotTagger and get_format("edits").runtime is Generator
    assert get_format("tagger").runtime is UnitScorer
    with pytest.raises(ModelFormatError, match="must be one of"):
        get_format("xml")


def test_registering_a_name_twice_is_refused(monkeypatch):
    monkeypatch.setattr(registry, "_FORMATS", dict(registry._FORMATS))
    with pytest.raises(ValueError, match="already registered"):

        @registry.register("edits")
        class Other(Seq2SeqFormat):
            pass


def test_a_new_format_is_one_registered_class(monkeypatch, stub_restorer):
    monkeypatch.setattr(registry, "_FORMATS", dict(registry._FORMATS))

    @registry.register("upper")
    class UpperFormat(Seq2SeqFormat):
        """The model writes the original in capitals; the restored unit is its lower case."""

        def make_target(self, spun: str, original: str) -> str:
            return normalize(original).upper()

        def apply_target(self, source: str, target: str) -> Applied:
            return Applied(target.lower())

    assert "upper" in format_names()
    ModelSettings(target_format="upper").validate()
    restorer = stub_restorer(lambda s: s.upper().replace("BIG", "LARGE"), target_format="upper")
    assert restorer.restore("the big dog  barked.") == "the large dog  barked."


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_tiny_model_of_every_format_restores_in_place(request, name):
    model_dir = request.getfixturevalue(MODELS[name])
    restorer = Restorer.from_pretrained(model_dir, threads=1)
    assert type(restorer.format) is get_format(name)
    results = [restorer.restore_detailed(p) for p in PARAGRAPHS]
    for paragraph, result in zip(PARAGRAPHS, results):
        assert_in_place(paragraph, result)
        assert result.units and all(u.status != "skipped" for u in result.units)
    # Deterministic, and batching changes nothing.
    assert restorer.restore_batch(PARAGRAPHS) == [r.text for r in results]
    assert [r.to_dict() for r in map(restorer.restore_detailed, PARAGRAPHS)] == [
        r.to_dict() for r in results
    ]


def test_a_tags_model_changes_only_table_words_into_shown_candidates(tiny_tags_model):
    restorer = Restorer.from_pretrained(tiny_tags_model, threads=1)
    edits = [e for p in PARAGRAPHS for e in restorer.restore_detailed(p).edits]
    assert edits, "the random model picks some candidates in the fixture paragraphs"
    shown = restorer.format.options.choices
    for edit in edits:
        candidates = TINY_TABLE[edit.spun.lower()][1][:shown]
        assert edit.restored in [match_case(edit.spun, c) for c in candidates], edit


def test_a_choices_restorer_puts_each_pick_in_its_slot(stub_restorer):
    # The model picks the second choice of every slot it is shown.
    restorer = stub_restorer(
        lambda source: "".join(f"⟦{i}⟧⟨2⟩" for i in re.findall(r"⟦(\d+)⟧", source)),
        target_format="choices",
        candidates=CandidateTable(TINY_TABLE),
        choices=2,
        max_source_tokens=512,  # this tokenizer spells the marks byte by byte
    )
    text = "The city  council said\nthe plan was new, Council said."
    result = restorer.restore_detailed(text)
    # "Council" mid-sentence is a name: not a slot.
    assert result.text == "The municipality  panel stated\nthe proposal was novel, Council stated."
    assert [(e.spun, e.restored) for e in result.edits] == [
        ("city", "municipality"),
        ("council", "panel"),
        ("said", "stated"),
        ("plan", "proposal"),
        ("new", "novel"),
        ("said", "stated"),
    ]


def test_a_tags_model_asks_for_a_tagger(tiny_tags_model, stub_restorer, tmp_path):
    with pytest.raises(BackendError, match="needs a SlotTagger backend"):
        Restorer.from_pretrained(tiny_tags_model, backend="ctranslate2")
    pytest.importorskip("ctranslate2")
    with pytest.raises(BackendError, match="tags-format model"):
        export_ctranslate2(tiny_tags_model, tmp_path / "ct2")
    # A runtime that only generates cannot run it.
    with pytest.raises(BackendError, match="need a SlotTagger"):
        stub_restorer(lambda s: s, target_format="tags", candidates=CandidateTable(TINY_TABLE))
    assert issubclass(TorchGenerator, SlotTagger) and issubclass(TorchGenerator, Generator)


def test_a_choices_model_is_generated_so_ctranslate2_may_run_it(tiny_choices_model):
    # Not refused for its format: it only lacks an export.
    with pytest.raises(BackendError, match="no CTranslate2 export"):
        Restorer.from_pretrained(tiny_choices_model, backend="ctranslate2")


def test_tags_labels_sit_on_slot_marks_only(slot_tokenizer_dir):
    from training.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(slot_tokenizer_dir)
    tags = TagsFormat(model_settings("tags", choices=2), CandidateTable(TINY_TABLE))
    spun, original = "The city council said no.", "The town council said no."
    target = tags.make_target(spun, original)
    assert target == "⟦1⟧⟨1⟩⟦2⟧⟨0⟩⟦3⟧⟨0⟩"
    sources = tokenizer([tags.encode_source(spun)]).input_ids
    columns = hooks_for(tags).label_columns(sources, [target], tokenizer)
    assert columns["decoder_input_ids"] == sources
    labels = columns["labels"][0]
    marks = [i for i, t in enumerate(sources[0]) if tokenizer.convert_ids_to_tokens(t)[0] == "⟦"]
    assert [i for i, label in enumerate(labels) if label != IGNORE] == marks
    assert tokenizer.convert_ids_to_tokens([labels[i] for i in marks]) == ["⟨1⟩", "⟨0⟩", "⟨0⟩"]
