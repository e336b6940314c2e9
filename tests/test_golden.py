"""The shipped models (the default tagger, and the small tags model that was the default before
it) return what they returned when their golden files were made: the same texts, edits, unit
reports and word spin, and every float to a relative 1e-5 (the models compute in float32, whose
last digits vary with the CPU: an AMD EPYC and the machine that wrote the file differ by up to
2e-6)."""

from __future__ import annotations

import json
import math

import pytest
from golden import MODELS, load_golden, run


def same(a, b) -> bool:
    """``a == b``, floats compared to a relative 1e-5."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def test_same_tells_float_noise_from_a_changed_output():
    line = {"text": "The party.", "edits": [{"confidence": 0.636441191331136, "restored": "party"}]}
    noisy = json.loads(json.dumps(line).replace("0.636441191331136", "0.6364413810054199"))
    assert same(line, noisy)
    assert not same(line, {**line, "text": "The feast."})
    assert not same(line, json.loads(json.dumps(line).replace("0.636", "0.637")))
    assert not same({"n": 1}, {"n": 1.0}) and not same([1], [1, 2])


@pytest.mark.parametrize("model", MODELS)
def test_shipped_model_outputs_match_the_golden_file(model):
    inputs, expected = load_golden(model)
    assert len(inputs) >= 200
    actual = run(model, inputs)
    assert len(actual) == len(expected)
    differ = [
        i
        for i, (a, b) in enumerate(zip(actual, expected))
        if not same(json.loads(a), json.loads(b))
    ]
    assert not differ, f"{len(differ)} lines differ, first: {actual[differ[0]]}"
