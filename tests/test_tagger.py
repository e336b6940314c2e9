"""The pretrained-encoder tagger: input encoding, batching, the network, labels, training.

A tiny BERT (2 layers, width 32) with a word-piece tokenizer trained in a second on the fixture
text stands in for all-MiniLM-L6-v2, so these tests run offline and fast.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from restore.inverse import InverseTable
from restore.ngram import NgramModel
from restore.tagger_batch import collate
from restore.tagger_engine import Proposal, TaggerEngine, apply_proposals
from restore.tagger_input import CANDIDATE_FEATURES, SITE_FEATURES, encode_unit
from restore.tagger_model import load_tagger, save_tagger
from tests.conftest import fixture_texts
from training.ngram import build_ngram_model
from training.tagger import NOT_SPUN, UNREACHABLE, build_tagger, label_unit, load_pieces

TABLE = InverseTable(
    {
        "fete": (2.0, [("party", 5.5), ("feast", 4.0)]),
        "ejects": (2.9, [("greets", 4.0), ("hits", 5.3), ("expels", 2.8)]),
        "depository": (2.9, [("bank", 5.2), ("store", 5.0)]),
        "out of doors": (4.5, [("outside", 5.2)]),
    }
)


def build_tiny_encoder(folder) -> None:
    """A random 2-layer BERT and a word-piece tokenizer trained on the fixture text."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials)
    texts = fixture_texts() + ["the party greets journalists outside the bank"] * 3
    tokenizer.train_from_iterator(texts, trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    BertModel(config).save_pretrained(folder)


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("encoder")
    build_tiny_encoder(folder)
    return folder


@pytest.fixture(scope="module")
def lm() -> NgramModel:
    return build_ngram_model(
        fixture_texts() + ["The party greets journalists outside the bank."] * 5, min_count=1
    )


@pytest.fixture(scope="module")
def engine(encoder_dir, lm) -> TaggerEngine:
    torch.manual_seed(0)
    model = build_tagger(encoder_dir, layers=2).eval()
    return TaggerEngine(model, load_pieces(encoder_dir), TABLE, lm, max_candidates=8)


# -- the n-gram model's vectorised scores ----------------------------------------------------


def test_score_spans_equals_the_sum_of_single_trigram_scores(lm):
    spans = [
        (["the"], ["party"], ["greets", "journalists"]),
        ([], ["fete"], []),
        (["outside", "the"], ["bank"], ["."]),
    ]
    batched = lm.score_spans(spans)
    for (left, middle, right), got in zip(spans, batched):
        ids = lm.span_ids(left, middle, right)
        expected = sum(lm.logscore_ids(*ids[k - 2 : k + 1]) for k in range(2, len(ids)))
        assert got == pytest.approx(expected)


def test_stupid_backoff_by_hand():
    model = build_ngram_model(["a b c", "a b d"], min_count=1)
    # Seen trigram: count(a b c) / count(a b) = 1/2.
    assert model.logscore(("a", "b"), "c") == pytest.approx(math.log(1 / 2))
    # Unseen trigram (c b d), seen bigram (b d): 0.4 * count(b d) / count(b) = 0.4 * 1/2.
    assert model.logscore(("c", "b"), "d") == pytest.approx(math.log(0.4 * 0.5))


def test_pruned_model_drops_rare_ngrams_and_still_scores():
    model = build_ngram_model(["a b c", "a b d", "a b c"], min_count=1)
    pruned = model.pruned(2)
    # The stream "<s> <s> a b c </s> <s> <s> a b d </s> <s> <s> a b c </s>" has five trigrams
    # seen twice or more: "<s> <s> a", "<s> a b", "a b c", "b c </s>" and "</s> <s> <s>".
    assert pruned.manifest["trigrams"] == 5
    assert pruned.logscore(("a", "b"), "c") == pytest.approx(math.log(2 / 3))
    assert pruned.logscore(("a", "b"), "d") < model.logscore(("a", "b"), "d")


# -- the inverse table and the input format --------------------------------------------------


def test_inverse_table_round_trips_and_matches_longest_phrase_first(tmp_path):
    path = tmp_path / "inverse.npz"
    TABLE.save(path)
    assert InverseTable.load(path) == TABLE
    sites = TABLE.match("They ate out of doors, then the fete ended.")
    assert [(s.key, s.start, s.end) for s in sites] == [("out of doors", 9, 21), ("fete", 32, 36)]


def test_inverse_table_leaves_names_alone():
    assert [s.key for s in TABLE.match("Fete began when Mr Fete came.")] == ["fete"]


def test_encode_unit_features_prefer_the_candidate_the_context_knows(lm):
    unit = encode_unit("The fete greets journalists.", TABLE, lm, max_candidates=8)
    (site,) = unit.sites
    assert site.candidates == ("party", "feast")
    assert site.features.shape == (2, CANDIDATE_FEATURES)
    assert site.site_features.shape == (SITE_FEATURES,)
    gain_party, gain_feast = site.features[:, 0]
    assert gain_party > 0  # "the party greets" is in the n-gram counts
    assert gain_feast == 0  # "feast" and "fete" are both unknown to it: no evidence either way
    assert site.site_features[0] == pytest.approx(gain_party)  # the best gain


def test_encode_unit_caps_candidates_and_handles_text_without_sites(lm):
    unit = encode_unit("Ejects.", TABLE, lm, max_candidates=2)
    assert unit.sites[0].candidates == ("greets", "hits")
    empty = encode_unit("Nothing here.", TABLE, lm, max_candidates=2)
    assert empty.sites == () and [t.text for t in empty.tokens] == ["Nothing", "here", "."]


# -- batching and the network ----------------------------------------------------------------


def test_piece_encoder_marks_the_first_piece_of_every_token(encoder_dir, lm):
    pieces = load_pieces(encoder_dir)
    unit = encode_unit("The fete ejects journalists.", TABLE, lm, max_candidates=8)
    ids, first = pieces.unit(unit)
    assert ids[0] == pieces.tokenizer.token_to_id("[CLS]")
    assert ids[-1] == pieces.tokenizer.token_to_id("[SEP]")
    assert len(first) == len(unit.tokens) and first == sorted(set(first)) and first[0] == 1


def test_collate_and_forward_shapes_and_masks(engine):
    units = [engine.encode("The fete ejects journalists."), engine.encode("None here.")]
    batch = collate(units, engine.pieces)
    out = engine.model(batch)
    assert out.word_logits.shape == (2, 5)
    assert out.cand_logits.shape == (2, 3)  # two sites, at most three candidates
    assert torch.isinf(out.cand_logits[0, 2]) and torch.isfinite(out.cand_logits[1]).all()
    assert batch.word_mask.tolist() == [[True] * 5, [True] * 3 + [False] * 2]


def test_scores_are_the_same_alone_and_in_a_batch(engine):
    a = engine.encode("The fete ejects journalists outside the depository.")
    b = engine.encode("A fete.")
    alone = engine.score([a])[0]
    together = engine.score([b, a])[1]
    assert [p.restored for p in alone.proposals] == [p.restored for p in together.proposals]
    for x, y in zip(alone.proposals, together.proposals):
        assert x.confidence == pytest.approx(y.confidence, abs=1e-5)


def test_proposals_keep_the_spun_casing_and_apply_exactly(engine):
    unit = engine.encode("Fete ejects people.")
    result = engine.score([unit])[0]
    assert [p.spun for p in result.proposals] == ["Fete", "ejects"]
    assert result.proposals[0].restored[0].isupper()
    assert all(0.0 <= p.confidence <= 1.0 for p in result.proposals)
    proposals = [Proposal(0, 4, "Fete", "Party", 0.9), Proposal(5, 11, "ejects", "greets", 0.2)]
    assert apply_proposals(unit.text, proposals) == "Party greets people."
    assert apply_proposals(unit.text, [p for p in proposals if p.confidence >= 0.5]) == (
        "Party ejects people."
    )


def test_saved_tagger_reloads_with_the_same_outputs(engine, tmp_path):
    save_tagger(engine.model, tmp_path, dtype=torch.float32)
    reloaded = load_tagger(tmp_path)
    batch = collate([engine.encode("The fete ejects journalists.")], engine.pieces)
    with torch.inference_mode():
        a, b = engine.model(batch), reloaded(batch)
    assert torch.allclose(a.word_logits, b.word_logits)
    assert torch.equal(torch.isinf(a.cand_logits), torch.isinf(b.cand_logits))


# -- labels and training ---------------------------------------------------------------------


def test_label_unit_marks_spun_words_and_reachable_originals(engine):
    unit = engine.encode("The fete ejects the crowd from the depository.")
    subs = [
        {"spun_start": 4, "spun_end": 8, "original": "Party"},
        {"spun_start": 9, "spun_end": 15, "original": "welcomes"},  # not a candidate
        {"spun_start": 35, "spun_end": 45, "original": "bank"},
    ]
    labels = label_unit(unit, subs, engine.pieces)
    assert labels.words == [0, 1, 1, 0, 0, 0, 0, 1, 0]
    assert labels.sites == [0, UNREACHABLE, 0]
    clean = label_unit(unit, [], engine.pieces)
    assert clean.sites == [NOT_SPUN] * 3 and sum(clean.words) == 0
    party = engine.pieces.tokenizer.encode("party", add_special_tokens=False).ids
    assert labels.vocab[0] == (party[0] if len(party) == 1 else -1)


def test_training_steps_lower_the_loss(encoder_dir, lm):
    from training.tagger import losses

    torch.manual_seed(0)
    model = build_tagger(encoder_dir, layers=2)
    pieces = load_pieces(encoder_dir)
    eng = TaggerEngine(model, pieces, TABLE, lm, max_candidates=8)
    unit = eng.encode("The fete ejects journalists outside the depository.")
    subs = [{"spun_start": 4, "spun_end": 8, "original": "party"}]
    labels = label_unit(unit, subs, pieces)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(15):
        parts = losses(model, [unit], [labels], pieces)
        loss = parts["detect"] + parts["choose"]
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first / 2
    model.eval()
    (result,) = eng.score([unit])
    assert result.proposals[0].restored == "party"
    probs = dict(((s, e), p) for s, e, p in result.words)
    assert probs[(4, 8)] > 0.5 > probs[(0, 3)]
    assert np.isfinite([p.confidence for p in result.proposals]).all()
