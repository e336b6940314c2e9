import pytest
from conftest import model_settings

from restore.candidates import CandidateTable, match_case
from restore.formats.choices import ChoicesFormat
from restore.formats.edits import EditsFormat
from restore.formats.tags import TagsFormat
from restore.settings import ModelFormatError, ModelSettings, save_settings

TABLE = CandidateTable(
    {
        "ejects": (0.9, ["greets", "expels", "ousts"]),
        "throng": (0.8, ["crowd"]),
        "by means of": (0.95, ["by"]),
        "means": (0.4, ["ways"]),
    }
)
CHOICES_SETTINGS = model_settings("choices", choices=2)
CHOICES = ChoicesFormat(CHOICES_SETTINGS, TABLE)


def spans(text, table=TABLE, limit=None):
    return [(text[m.start : m.end], m.candidates) for m in table.match(text, limit)]


def test_match_prefers_the_longest_phrase_and_skips_names():
    text = "He paid by means of a cheque. Throng and Ejects left; the throng ejects."
    assert spans(text) == [
        ("by means of", ("by",)),
        ("Throng", ("crowd",)),  # a sentence start may be spun
        ("throng", ("crowd",)),  # mid-sentence "Ejects" is a name
        ("ejects", ("greets", "expels", "ousts")),
    ]
    assert len(spans(text, limit=2)) == 2


def test_match_case_follows_the_spun_word():
    assert match_case("EJECTS", "greets") == "GREETS"
    assert match_case("Ejects", "greets") == "Greets"
    assert match_case("ejects", "greets") == "greets"


def test_choices_round_trip_restores_the_original():
    spun = "Throng: she ejects the throng  by means of force."
    original = "Crowd: she greets the crowd  by force."
    source = CHOICES.encode_source(spun)
    # Only ``choices`` candidates are shown, each mark glued to the text before it.
    assert source == (
        "Throng⟦1⟧⟨1⟩ crowd: she ejects⟦2⟧⟨1⟩ greets⟨2⟩ expels the throng⟦3⟧⟨1⟩ crowd "
        "by means of⟦4⟧⟨1⟩ by force."
    )
    target = CHOICES.make_target(spun, original)
    assert target == "⟦1⟧⟨1⟩⟦2⟧⟨1⟩⟦3⟧⟨1⟩⟦4⟧⟨1⟩"
    applied = CHOICES.apply_target(spun, target)
    assert applied.text == "Crowd: she greets the crowd by force."  # normalised spacing
    assert applied.failed_items == 0 and len(applied.placed) == 4


def test_choices_keep_words_that_are_not_spun_or_not_restorable():
    # "ousts" is the third candidate, which these settings do not show: the target keeps it.
    assert CHOICES.make_target("She ejects them.", "She ousts them.") == "⟦1⟧⟨0⟩"
    assert CHOICES.make_target("No table words.", "No table words.") == ""
    assert CHOICES.apply_target("She ejects them.", "⟦1⟧⟨0⟩").text == "She ejects them."


@pytest.mark.parametrize("output", ["⟦2⟧⟨1⟩", "⟦1⟧⟨2⟩⟦1⟧⟨1⟩", "⟦1⟧"])
def test_choices_outputs_naming_missing_slots_or_choices_are_skipped(output):
    applied = CHOICES.apply_target("She ejects them.", output)
    expected = "She expels them." if output.startswith("⟦1⟧⟨2⟩") else "She ejects them."
    assert applied.text == expected
    assert applied.failed_items == (0 if output == "⟦1⟧" else 1)


def test_choices_past_a_slots_candidates_keep_the_word():
    applied = CHOICES.apply_target("She ejects them.", "⟦1⟧⟨3⟩")
    assert (applied.text, applied.failed_items) == ("She ejects them.", 0)


def test_table_save_load_is_byte_stable(tmp_path):
    TABLE.save(tmp_path / "a.json.gz")
    loaded = CandidateTable.load(tmp_path / "a.json.gz")
    assert loaded == TABLE
    loaded.save(tmp_path / "b.json.gz")
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()


def test_choices_model_without_or_with_a_broken_table_is_a_clear_error(tmp_path):
    save_settings(CHOICES_SETTINGS, tmp_path)
    with pytest.raises(ModelFormatError, match="has no candidates.json.gz"):
        ChoicesFormat.load(tmp_path, CHOICES_SETTINGS)
    (tmp_path / "candidates.json.gz").write_bytes(b"not gzip")
    with pytest.raises(ModelFormatError, match="cannot read"):
        ChoicesFormat.load(tmp_path, CHOICES_SETTINGS)
    with pytest.raises(ModelFormatError, match="needs a candidate table"):
        ChoicesFormat(CHOICES_SETTINGS)
    assert EditsFormat.load(tmp_path, ModelSettings(target_format="edits")).candidates is None


def test_tags_source_puts_candidates_and_spun_share_before_the_slot_mark():
    tags = TagsFormat(model_settings("tags", choices=2), TABLE)
    spun = "She ejects the throng by means of force."
    assert tags.encode_source(spun) == (
        "She ejects⟨1⟩ greets⟨2⟩ expels⟪9⟫⟦1⟧ the throng⟨1⟩ crowd⟪8⟫⟦2⟧ "
        "by means of⟨1⟩ by⟪9⟫⟦3⟧ force."
    )
    target = tags.make_target(spun, "She greets the crowd by force.")
    assert target == "⟦1⟧⟨1⟩⟦2⟧⟨1⟩⟦3⟧⟨1⟩"
    assert tags.apply_target(spun, target).text == "She greets the crowd by force."
