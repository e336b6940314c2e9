"""The README's example outputs are what the shipped default model really returns."""

from __future__ import annotations

import io
import random
import re
from pathlib import Path

import pytest

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
SPUN = "The minister enumerated newspapermen that the rumbles would continue next week."
ORIGINAL = "The minister told reporters that the talks would continue next week."
MISSED = "The celebration ejects journalists outside the depository."


@pytest.fixture(scope="module")
def restorer():
    from restore import Restorer

    return Restorer.from_pretrained("default", threads=1)


def test_the_first_command_restores_its_own_example(monkeypatch, capsys):
    from restore.cli import main

    command = re.search(r'echo "([^"]+)" \| restore\n', README)
    assert command and command.group(1) == SPUN
    assert f"The first command prints `{ORIGINAL[:40]}" in README.replace("\n", " ")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(SPUN.encode() + b"\n")))
    assert main(["--threads", "1"]) == 0
    assert capsys.readouterr().out == ORIGINAL + "\n"


def test_the_example_was_made_by_our_spinner():
    from training.spinner import Spinner, SpinnerConfig

    spun = Spinner(SpinnerConfig(rate=0.5)).spin(ORIGINAL, rng=random.Random(2)).text
    assert spun == SPUN


def test_the_labelled_mistake_is_what_the_model_returns(restorer):
    wrong = "The celebration ejects reporters outside the depository."
    flat = README.replace("\n", " ")
    assert MISSED in flat and f"comes back as **`{wrong}`**" in flat
    assert restorer.restore(MISSED) == wrong


def test_the_detection_example(restorer):
    d = restorer.detect("The celebration ejects the press.")
    assert round(d.spin_score, 2) == 0.25 and "(0.25 here)" in README
    assert [w.word for w in d.words if w.probability > 0.5] == ["ejects"]
    shown = [(w.word, round(w.probability, 2)) for w in d.words]
    assert f"# {shown}" in README
