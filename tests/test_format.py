import json

import pytest
from conftest import model_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from restore.formats import load_settings
from restore.formats.edits import EditsFormat, apply_edits, format_edits
from restore.formats.text import TextFormat
from restore.settings import (
    FORMAT_VERSION,
    SETTINGS_FILE,
    ModelFormatError,
    ModelSettings,
    save_settings,
)

EDITS = EditsFormat(ModelSettings(target_format="edits"))
TEXT = TextFormat(model_settings("text", prefix="restore: "))


@pytest.mark.parametrize(
    "spun, original, target",
    [
        ("He ejects the crowd.", "He greets the crowd.", "‖ ejects ⇒ greets"),
        ("Same text.", "Same text.", ""),
        ("a cat and a dog", "a cat and a hound", "‖ dog ⇒ hound"),
        ("a fete and a bank", "a party and a shore", "‖ fete ⇒ party ‖ bank ⇒ shore"),
        # The first "big" is untouched, so the second carries context to be found.
        ("the big dog saw a big cat", "the big dog saw a large cat", "‖ a big ⇒ a large"),
        (
            "they ran on the outskirts of town",
            "they ran outside town",
            "‖ on the outskirts of ⇒ outside",
        ),
        ("pay up, and go", "pay, and go", "‖ up ⇒"),
        ("a 2-international mile", "a 2-mile", "‖ international ⇒"),
        ("Up the hill", "the hill", "‖ Up ⇒"),
        ("the hill", "Up the hill", "‖ the ⇒ Up the"),
        ("x y z", "p q r", "‖ x y z ⇒ p q r"),
    ],
)
def test_edit_targets_round_trip(spun, original, target):
    assert EDITS.make_target(spun, original) == target
    applied = EDITS.apply_target(spun, target)
    assert applied.text == original and applied.failed_items == 0


def test_items_that_do_not_fit_are_counted_and_skipped():
    applied = apply_edits("He ejects the crowd.", "bogus ⇒ x ‖ ejects ⇒ greets ‖ no arrow")
    assert applied.text == "He greets the crowd." and applied.failed_items == 2
    # Items are placed in order: one that lies before the previous item cannot be placed.
    out = apply_edits("a b c", "c ⇒ C ‖ a ⇒ A")
    assert out.text == "a b C" and out.failed_items == 1


def test_text_format_and_prefix():
    assert TEXT.encode_source("  He  ejects\n the crowd. ") == "restore: He ejects the crowd."
    assert TEXT.make_target("He ejects.", "He  greets.") == "He greets."
    assert TEXT.apply_target("He ejects.", "He greets.").text == "He greets."


def test_marks_in_text_are_refused():
    with pytest.raises(ValueError, match="marks"):
        format_edits("a ⇒ b", "a ⇒ c")


_words = st.sampled_from(
    ["the", "big", "dog", "a", "cat", ",", ".", "ran", "on", "9", "“", "”", "-", "café", "it's"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_words, min_size=1, max_size=14), st.lists(_words, min_size=1, max_size=14))
def test_any_pair_round_trips(a, b):
    spun, original = " ".join(a), " ".join(b)
    target = EDITS.make_target(spun, original)
    assert EDITS.apply_target(spun, target).text == original


def test_settings_round_trip_and_errors(tmp_path):
    settings = model_settings("edits", prefix="p: ", versions={"torch": "2"})
    save_settings(settings, tmp_path)
    assert load_settings(tmp_path) == settings
    with pytest.raises(ModelFormatError, match="no restore.json"):
        load_settings(tmp_path / "missing")
    path = tmp_path / SETTINGS_FILE
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(ModelFormatError, match="upgrade restore"):
        load_settings(tmp_path)
    path.write_text(json.dumps({**data, "surprise": 1}))
    with pytest.raises(ModelFormatError, match="surprise"):
        load_settings(tmp_path)
    path.write_text("{broken")
    with pytest.raises(ModelFormatError, match="cannot read"):
        load_settings(tmp_path)
    path.write_text(json.dumps({**data, "target_format": "xml"}))
    with pytest.raises(ModelFormatError, match="target_format"):
        load_settings(tmp_path)


def test_settings_of_the_flat_version_2_layout_still_load(tmp_path):
    flat = {
        "format_version": 2,
        "target_format": "tags",
        "prefix": "p: ",
        "max_source_tokens": 192,
        "max_target_tokens": 64,
        "segmentation": "passage",
        "max_words": 48,
        "slots": 12,
        "choices": 2,
        "max_candidates": 64,  # a tagger's key, which a tags model never used
        "choice_rule": None,
        "edit_rule": None,
        "guard": {"min_edit_confidence": 0.6},
        "versions": {},
    }
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(flat))
    settings = load_settings(tmp_path)
    assert settings.target_format == "tags" and settings.max_source_tokens == 192
    assert (settings.options.prefix, settings.options.slots, settings.options.choices) == (
        "p: ",
        12,
        2,
    )
    assert settings.guard.min_edit_confidence == 0.6
    save_settings(settings, tmp_path)  # written again in the current layout
    data = json.loads((tmp_path / SETTINGS_FILE).read_text())
    assert data["format_version"] == FORMAT_VERSION and data["tags"]["slots"] == 12
    assert "prefix" not in data and "max_candidates" not in data
    assert load_settings(tmp_path).options == settings.options
