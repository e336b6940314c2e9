"""Baseline restorers and the n-gram model behind one of them (fast: a fixture-sized model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from restore.text import split_paragraphs, tokenize
from training.baselines import (
    IdentityRestorer,
    InverseThesaurusRestorer,
    NgramInverseThesaurusRestorer,
)
from training.evaluation import EvaluationError, build_baseline
from training.tagger.ngram import NgramError, build_ngram_model, lm_tokens, load_ngram_model, main

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests/data/tiny_news.jsonl"


@pytest.fixture(scope="module")
def paragraphs():
    with open(FIXTURE, encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh]
    return [t[a:b] for t in texts for a, b in split_paragraphs(t)]


@pytest.fixture(scope="module")
def tiny_lm(paragraphs):
    extra = ["The party ended early.", "The party ended late."] * 5
    return build_ngram_model([*paragraphs, *extra], min_count=1)


@pytest.fixture(scope="module")
def inverse():
    return InverseThesaurusRestorer()


def _assert_only_words_changed(before: str, after: str) -> None:
    """Same token count, same gaps, same punctuation and numbers: only words may differ."""
    a, b = tokenize(before), tokenize(after)
    assert len(a) == len(b)
    assert [t.kind for t in a] == [t.kind for t in b]
    for x, y in zip(a, b):
        if x.kind != "word":
            assert x.text == y.text
    gaps = lambda toks, text: [text[p.end : q.start] for p, q in zip(toks, toks[1:])]  # noqa: E731
    assert gaps(a, before) == gaps(b, after)
    assert before[: a[0].start if a else len(before)] == after[: b[0].start if b else len(after)]


def test_identity_copies():
    texts = ["A fete.", "", "  spaced  \n\n text "]
    assert IdentityRestorer().restore_batch(texts) == texts


def test_inverse_thesaurus_restores_rare_synonyms_keeping_case_and_inflection(inverse):
    assert inverse.restore_batch(["The fete ended.", "Fete time. The fete's end."]) == [
        "The party ended.",
        "Party time. The party's end.",
    ]
    looser = InverseThesaurusRestorer(margin=1.0)
    assert looser.restore("Celebrations ended.") == "Parties ended."  # plural and case kept
    assert looser.options("celebrations")[0][0] == "parties"


def test_inverse_thesaurus_leaves_names_acronyms_numbers_alone(inverse):
    for text in ["Mr. Fete spoke.", "THE FETE ENDED.", "Fete spoke. Then Fete left.", "In 1987."]:
        assert inverse.restore(text) == text


def test_inverse_thesaurus_margin_controls_changes():
    strict = InverseThesaurusRestorer(margin=10.0)
    assert strict.restore("The fete ended.") == "The fete ended."


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(["fete", "the", "celebration", "ended", ",", ".", "“", "9:30", "Mr."]),
        max_size=12,
    ),
    st.lists(st.sampled_from([" ", "  ", "\n", "\n\n", " \t"]), min_size=12, max_size=12),
)
def test_inverse_thesaurus_changes_words_only(inverse, words, spaces):
    text = "".join(w + s for w, s in zip(words, spaces))
    restored = inverse.restore(text)
    _assert_only_words_changed(text, restored)
    assert inverse.restore_batch([text, text]) == [restored, restored]


def test_on_fixture_paragraphs_output_is_one_per_input_and_keeps_layout(inverse, paragraphs):
    out = inverse.restore_batch(paragraphs)
    assert len(out) == len(paragraphs)
    for before, after in zip(paragraphs, out):
        _assert_only_words_changed(before, after)


def test_ngram_scores_and_round_trip(tiny_lm, tmp_path):
    assert lm_tokens("It cost 4.5 million.") == ["it", "cost", "<num>", "million", "."]
    seen = tiny_lm.logscore(("the", "party"), "ended")
    assert seen > tiny_lm.logscore(("the", "party"), "council")
    assert tiny_lm.logscore(("the", "party"), "zzzunknown") < tiny_lm.logscore(
        ("the", "party"), "council"
    )
    tiny_lm.save(tmp_path / "lm")
    loaded = load_ngram_model(tmp_path / "lm")
    assert loaded.logscore(("the", "party"), "ended") == seen
    assert loaded.vocab == tiny_lm.vocab
    span = (["the"], ["party"], ["ended", "early"])
    assert loaded.score_span(*span) == tiny_lm.score_span(*span)


def test_ngram_caps_words_and_refuses_bad_folders(paragraphs, tmp_path):
    capped = build_ngram_model(paragraphs, min_count=1, max_words=200)
    assert 200 <= capped.manifest["tokens"] < 400
    with pytest.raises(NgramError):
        load_ngram_model(tmp_path / "missing")
    with pytest.raises(NgramError):
        build_ngram_model([""])
    capped.save(tmp_path / "old")
    manifest = json.loads((tmp_path / "old/manifest.json").read_text())
    (tmp_path / "old/manifest.json").write_text(json.dumps({**manifest, "format": 99}))
    with pytest.raises(NgramError, match="format"):
        load_ngram_model(tmp_path / "old")


def test_ngram_cli_builds_from_a_corpus_folder_and_never_overwrites(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(FIXTURE, corpus / "tiny.jsonl")
    args = ["--corpus", str(corpus), "--output", str(tmp_path / "lm"), "--min-count", "1"]
    assert main(args) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["split"] == "train" and manifest["tokens"] > 500
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_ngram_restorer_chooses_in_context(tiny_lm):
    eager = NgramInverseThesaurusRestorer(tiny_lm, margin=-5.0, min_gain=0.0)
    assert eager.restore("The fete ended early.") == "The party ended early."
    cautious = NgramInverseThesaurusRestorer(tiny_lm, margin=-5.0, min_gain=1000.0)
    assert cautious.restore("The fete ended early.") == "The fete ended early."


def test_ngram_restorer_keeps_layout(tiny_lm, paragraphs):
    restorer = NgramInverseThesaurusRestorer(tiny_lm, phrases=False)
    out = restorer.restore_batch(paragraphs[:10])
    assert len(out) == 10
    for before, after in zip(paragraphs, out):
        _assert_only_words_changed(before, after)
    assert restorer.restore_batch(paragraphs[:10]) == out


def test_build_baseline_by_name(tmp_path, tiny_lm):
    assert isinstance(build_baseline("identity"), IdentityRestorer)
    assert build_baseline("inverse", margin=3.0).config.margin == 3.0
    with pytest.raises(EvaluationError, match="--lm"):
        build_baseline("inverse-lm")
    tiny_lm.save(tmp_path / "lm")
    assert build_baseline("inverse-lm", lm_dir=tmp_path / "lm").model.vocab == tiny_lm.vocab
    with pytest.raises(EvaluationError, match="unknown baseline"):
        build_baseline("oracle")
