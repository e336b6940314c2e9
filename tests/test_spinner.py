import json
import subprocess
import sys
from pathlib import Path

import lemminflect
import pytest

from training.spinner import (
    Spinner,
    SpinnerConfig,
    apply_substitutions,
    revert_substitutions,
)

ROOT = Path(__file__).resolve().parents[1]
CHECK_SENTENCE = (
    "Independent journalists were not given access to cover the event depicted in this image "
    "distributed by the government."
)


@pytest.fixture(scope="module")
def paragraphs():
    with open(ROOT / "tests/data/tiny_news.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [p for row in rows for p in row["text"].split("\n\n")]


@pytest.fixture(scope="module")
def spinners():
    return {rate: Spinner(SpinnerConfig(rate=rate)) for rate in (0.0, 0.1, 0.3, 0.5, 1.0)}


def test_same_seed_same_output_and_seeds_differ(spinners):
    spinner = spinners[0.5]
    first = spinner.spin(CHECK_SENTENCE, seed=3)
    assert spinner.spin(CHECK_SENTENCE, seed=3) == first
    others = {spinner.spin(CHECK_SENTENCE, seed=s).text for s in range(10)}
    assert len(others) > 5


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5])
def test_achieved_rate_matches_requested(paragraphs, spinners, rate):
    eligible = replaced = 0
    for i, p in enumerate(paragraphs):
        result = spinners[rate].spin(p, seed=i)
        assert result.replaced_words == sum(s.words for s in result.substitutions)
        eligible += result.eligible_words
        replaced += result.replaced_words
    assert eligible > 1000
    assert abs(replaced / eligible - rate) < 0.02


def test_rate_zero_changes_nothing_and_rate_one_changes_every_eligible(paragraphs, spinners):
    p = paragraphs[0]
    none = Spinner(SpinnerConfig(rate=0.0, function_rate=0.0)).spin(p, seed=1)
    assert none.text == p and none.substitutions == ()
    every = spinners[1.0].spin(p, seed=1)
    assert every.replaced_words == every.eligible_words > 0


def test_spans_reapply_exactly_and_outside_is_byte_identical(paragraphs, spinners):
    for i, p in enumerate(paragraphs):
        result = spinners[0.5].spin(p, seed=i)
        assert apply_substitutions(p, result.substitutions) == result.text
        assert revert_substitutions(result.text, result.substitutions) == p
        for s in result.substitutions:
            assert p[s.start : s.end] == s.original
            assert result.text[s.spun_start : s.spun_end] == s.replacement
            assert s.original.lower() != s.replacement.lower()


def test_whitespace_and_paragraph_breaks_survive(spinners):
    text = "The  party\tgreets journalists.\n\n  Officials   greeted the\r\nvisitors warmly.  \n"
    for seed in range(20):
        result = spinners[1.0].spin(text, seed=seed)
        assert result.substitutions
        kept, kept_spun, pos, spun_pos = [], [], 0, 0
        for s in result.substitutions:
            kept.append(text[pos : s.start])
            kept_spun.append(result.text[spun_pos : s.spun_start])
            pos, spun_pos = s.end, s.spun_end
        assert kept + [text[pos:]] == kept_spun + [result.text[spun_pos:]]


def test_numbers_names_urls_are_never_touched(paragraphs, spinners):
    text = (
        "On March 9 the Harlow council spent $4.5 million, or 12 pct, and said “see "
        "www.example.com or write to info@example.org” before Maria Lopez spoke to NATO."
    )
    for seed in range(40):
        for s in spinners[1.0].spin(text, seed=seed).substitutions:
            assert not any(c.isdigit() for c in s.original)
            assert not s.original[:1].isupper(), s
            assert "example" not in s.original and "info" not in s.original


def test_mid_sentence_capitals_are_protected_on_real_paragraphs(paragraphs, spinners):
    for i, p in enumerate(paragraphs):
        for s in spinners[0.5].spin(p, seed=i).substitutions:
            if s.original[:1].isupper():
                before = p[: s.start].rstrip()
                assert not before or before[-1] in '.!?"“‘(', (p, s)


def _readings(word):
    return {
        tag
        for upos, lemmas in lemminflect.getAllLemmas(word.lower()).items()
        for lemma in lemmas
        for tag in ("NNS", "VBZ", "VBD", "VBN", "VBG")
        if word.lower() in lemminflect.getInflection(lemma, tag)
    }


def test_inflection_is_kept(paragraphs, spinners):
    checked = 0
    for i, p in enumerate(paragraphs):
        for s in spinners[0.5].spin(p, seed=i).substitutions:
            if s.kind != "word" or s.tag not in ("NNS", "VBZ", "VBD", "VBG"):
                continue
            checked += 1
            assert (
                s.tag in _readings(s.replacement)
                or s.tag == "VBD"
                and "VBN" in _readings(s.replacement)
            ), s
    assert checked > 30


def test_known_inflections():
    spinner = Spinner(SpinnerConfig(rate=1.0, function_rate=0.0))
    for seed in range(10):
        result = spinner.spin("She greets the journalists.", seed=seed)
        subs = {s.original: s for s in result.substitutions}
        head = subs["greets"].replacement.split()[0]  # "speaks to": the verb inflects
        assert subs["greets"].tag == "VBZ" and "VBZ" in _readings(head)
        assert subs["journalists"].tag == "NNS"


def test_capitalisation_is_kept():
    spinner = Spinner(SpinnerConfig(rate=1.0, function_rate=0.0))
    for seed in range(10):
        result = spinner.spin("Officials greeted the crowd. REPORTERS WATCHED THE CROWD", seed=seed)
        subs = {s.original: s for s in result.substitutions}
        assert subs["Officials"].replacement[0].isupper()
        upper = [s for s in result.substitutions if s.original.isupper()]
        assert upper and all(s.replacement == s.replacement.upper() for s in upper)


def test_choice_is_sense_blind_by_default_and_sense_aware_on_request():
    text = "The ruling party won the vote."
    blind = Spinner(SpinnerConfig(rate=1.0, function_rate=0.0))
    aware = Spinner(SpinnerConfig(rate=1.0, function_rate=0.0, choice="sense_aware"))

    def senses(spinner):
        chosen = set()
        for seed in range(60):
            for s in spinner.spin(text, seed=seed).substitutions:
                if s.original == "party":
                    chosen.add(s.replacement)
        return chosen

    blind_words, aware_words = senses(blind), senses(aware)
    assert len(blind_words) > len(aware_words) > 0
    assert blind_words - aware_words  # other senses ("celebration"-like) appear only when blind


def test_multiword_phrases_in_both_directions(paragraphs, spinners):
    phrase_sources = phrase_targets = 0
    for i, p in enumerate(paragraphs):
        for s in spinners[0.5].spin(p, seed=i).substitutions:
            phrase_sources += " " in s.original
            phrase_targets += " " in s.replacement
    assert phrase_sources > 5 and phrase_targets > 5


def test_function_words_have_their_own_rate():
    text = "He came by train because of the strike, but he left before noon. " * 5
    only_function = Spinner(SpinnerConfig(rate=0.0, function_rate=1.0))
    result = only_function.spin(text, seed=2)
    assert result.substitutions and all(s.kind == "function" for s in result.substitutions)
    assert result.replaced_words == 0 and result.function_replaced == result.function_eligible


def test_empty_and_unspinnable_text(spinners):
    for text in ("", "   \n\n", "12 34 56", "Маша и медведь", "東京は晴れ", "🙂🙂"):
        result = spinners[0.5].spin(text, seed=1)
        assert result.text == text and result.eligible_words == 0


def run_cli(*args, stdin=b""):
    return subprocess.run(
        [sys.executable, "-m", "training.spin", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )


def test_cli_check_sentence_changes_at_least_three_words_deterministically():
    first = run_cli("--rate", "0.5", "--seed", "3", stdin=CHECK_SENTENCE.encode() + b"\n")
    second = run_cli("--rate", "0.5", "--seed", "3", stdin=CHECK_SENTENCE.encode() + b"\n")
    assert first.returncode == 0 and first.stdout == second.stdout
    out = first.stdout.decode()
    changed = sum(a != b for a, b in zip(CHECK_SENTENCE.split(), out.split()))
    assert out.endswith(".\n") and changed >= 3


def test_cli_json_spans_reapply(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("The party greets journalists.\n\nOfficials said so.\n", encoding="utf-8")
    proc = run_cli("--rate", "1", "--seed", "1", "--json", str(path))
    assert proc.returncode == 0
    row = json.loads(proc.stdout)
    original = row["original"]
    edits = sorted(row["substitutions"], key=lambda s: s["start"])
    rebuilt, pos = [], 0
    for s in edits:
        rebuilt += [original[pos : s["start"]], s["replacement"]]
        pos = s["end"]
    assert "".join(rebuilt) + original[pos:] == row["spun"]
    assert row["achieved_rate"] == 1.0


def test_cli_bad_input():
    bad = run_cli(stdin=b"caf\xe9 au lait")
    assert bad.returncode == 2 and b"not valid UTF-8" in bad.stderr
    assert run_cli("/no/such/file").returncode == 2
    empty = run_cli(stdin=b"")
    assert empty.returncode == 0 and empty.stdout == b""
    assert run_cli("--rate", "2").returncode == 2


def test_cli_one_megabyte_single_line(paragraphs):
    line = " ".join(paragraphs)
    line = (line + " ") * (1_000_000 // len(line) + 1)
    proc = run_cli("--rate", "0.3", "--json", stdin=line.encode())
    assert proc.returncode == 0
    row = json.loads(proc.stdout)
    assert abs(row["achieved_rate"] - 0.3) < 0.01 and len(row["spun"]) > 900_000
