"""The both-sides fill-in count model (training.tagger.fillin): counts, backoff order, save and
load, and the measurement's weight choice; tiny hand-made texts, no corpus."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from training.tagger.fillin import (
    FillIn,
    FillInError,
    SiteChoice,
    best_weight,
    choice_shares,
    count_fillin,
    count_gaps,
    load_fillin,
    ngram_keys,
)
from training.tagger.ngram import iter_corpus_paragraphs

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
LOG_BACKOFF = math.log(0.4)


@pytest.fixture
def model() -> FillIn:
    return count_fillin(
        [
            "The big cat sat on the mat.",
            "The big cat sat on the mat.",
            "A big dog sat on a rug.",
            "The big fox ran.",
        ],
        min_count=1,
    )


def test_counts_of_known_ngrams(model):
    assert model.count(["the", "big", "cat", "sat", "on"]) == 2
    assert model.count(["big", "cat", "sat", "on", "the"]) == 2
    assert model.count(["a", "big", "dog", "sat", "on"]) == 1
    assert model.count(["big"]) == 4
    assert model.count(["<s>", "<s>", "the", "big"]) == 3
    assert model.count(["mat", ".", "</s>", "</s>"]) == 2
    assert model.count(["the", "big", "dog"]) == 0
    assert model.count(["never-seen"]) == 0


def test_pruning_keeps_unigrams():
    pruned = count_fillin(["the cat sat", "the dog sat"], min_count=2)
    assert pruned.count(["cat"]) == 1
    assert pruned.count(["the", "cat"]) == 0
    assert pruned.count(["<s>", "the"]) == 2


def test_keys_depend_on_order_and_length():
    a, b = np.array([5]), np.array([6])
    keys = {int(ngram_keys([a, b])[0]), int(ngram_keys([b, a])[0]), int(ngram_keys([a])[0])}
    assert len(keys) == 3


def test_backoff_levels_are_hand_computed(model):
    # "cat" and "dog" both fill "the big _ sat on" or not: cat is seen there (level 4), dog
    # only as "big dog sat on" (level 3, the right-hand 4-gram) and "big dog sat" (level 2).
    scores = model.scores(["the", "big"], ["cat", "dog"], ["sat", "on"])
    assert scores[0] == pytest.approx(0.0)  # the only one seen at level 4: share 2/2
    # level 3 counts: cat 2 + 2, dog 0 + 1 -> dog's share 1/5, one level down
    assert scores[1] == pytest.approx(math.log(1 / 5) + LOG_BACKOFF)


def test_both_sides_context_outranks_left_only():
    # "fox" follows "big" three times as often as "cat" does, but only "cat" is seen with the
    # right-hand side of the blank too.
    model = count_fillin(
        ["The big cat sat on the mat."] + ["The big fox ran off."] * 3, min_count=1
    )
    assert model.count(["big", "fox"]) > model.count(["big", "cat"])
    scores = model.scores(["the", "big"], ["fox", "cat"], ["sat", "on"])
    assert scores[1] > scores[0]
    # Without the right-hand side, the left decides.
    scores = model.scores(["the", "big"], ["fox", "cat"], ["jumped", "over"])
    assert scores[0] > scores[1]


def test_unknown_and_phrase_candidates(model):
    scores = model.scores(["the", "big"], ["cat", "zebra", "cat sat on the"], ["sat", "on"])
    assert np.all(np.isfinite(scores))
    assert scores[0] > scores[1]
    # A four-word phrase in two-sided context is over five tokens: it backs off, never errs.
    assert scores[2] < scores[0]


def test_score_sites_matches_scores(model):
    sites = [
        (["the", "big"], ["cat", "dog"], ["sat", "on"]),
        ([], ["the", "a"], ["big"]),
        (["sat", "on"], ["the"], []),
    ]
    batched = model.score_sites(sites)
    for site, got in zip(sites, batched):
        np.testing.assert_allclose(got, model.scores(*site))


def test_save_and_load_round_trip(model, tmp_path):
    path = tmp_path / "counts.npz"
    model.save(path)
    loaded = load_fillin(path)
    assert loaded.vocab == model.vocab
    assert loaded.manifest == model.manifest
    site = (["the", "big"], ["cat", "dog", "fox"], ["sat", "on"])
    np.testing.assert_array_equal(loaded.scores(*site), model.scores(*site))


def test_load_refuses_a_missing_file(tmp_path):
    with pytest.raises(FillInError):
        load_fillin(tmp_path / "absent.npz")


def test_no_text_is_an_error():
    with pytest.raises(FillInError):
        count_fillin(["", "   "])


def test_gap_words_rank_by_count_and_skip_the_pads(model):
    gaps = count_gaps(
        [
            "The big cat sat on the mat.",
            "The big cat sat on the mat.",
            "A big dog sat on a rug.",
            "The big fox sat.",
        ]
    )
    assert gaps.fills("big", "sat", 5) == ["cat", "dog", "fox"]  # 2, 1, 1 times: ties as read
    assert gaps.fills("big", "sat", 2) == ["cat", "dog"]
    assert gaps.fills("on", "mat", 5) == ["the"]
    # Pads and marks are context, never fillers; unknown words have none.
    assert gaps.fills("the", ".", 5) == ["mat"]
    assert gaps.fills("mat", "</s>", 5) == []
    assert count_gaps(["It rose 5 times, or four times."]).fills("rose", "times", 5) == []
    assert gaps.fills("<s>", "big", 5) == ["the", "a"]
    assert gaps.fills("big", "unseen", 5) == [] and gaps.fills("big", "sat", 0) == []


def test_gap_words_need_text():
    with pytest.raises(FillInError):
        count_gaps(["", "   "])


def test_weight_and_shares_are_hand_computed():
    choices = [
        SiteChoice(np.log([0.6, 0.4]), np.array([0.0, 1.0]), np.array([-2.0, 0.0]), want=1),
        SiteChoice(np.log([0.7, 0.3]), np.array([0.0, 1.0]), np.array([0.0, -1.0]), want=0),
    ]
    # network alone: 1 of 2; network + w * fillin gets both right once w > log(1.5) / 2.
    assert best_weight(choices, "fillin", weights=(0.0, 0.1, 0.5)) == 0.5
    shares = choice_shares(choices, fillin_weight=0.5, counts_weight=0.0)
    assert shares == {
        "reachable": 2,
        "network": 0.5,
        "counts": 0.5,
        "fillin": 1.0,
        "network_fillin": 1.0,
        "network_counts": 0.5,
    }


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
def test_counts_a_slice_of_the_corpus():
    model = count_fillin(iter_corpus_paragraphs(CORPUS, "train"), max_words=20_000)
    assert model.manifest["tokens"] >= 20_000
    assert model.count(["of", "the"]) > 0
    scores = model.scores(["one", "of"], ["the", "zzzq"], ["most", "important"])
    assert scores[0] > scores[1]
