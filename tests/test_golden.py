"""The small tags model (the shipped default until the tagger) returns, byte for byte, what it
returned when the golden file was made."""

from __future__ import annotations

from golden_tags_small import load_golden, run


def test_tags_small_model_outputs_match_the_golden_file():
    inputs, expected = load_golden()
    assert len(inputs) >= 200
    actual = run(inputs)
    differ = [i for i, (a, b) in enumerate(zip(actual, expected)) if a != b]
    assert len(actual) == len(expected)
    assert not differ, f"{len(differ)} lines differ, first: {actual[differ[0]]}"
