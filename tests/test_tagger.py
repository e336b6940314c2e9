"""The pretrained-encoder tagger: input encoding, batching, the network, labels, training.

A tiny BERT (2 layers, width 32) with a word-piece tokenizer trained in a second on the fixture
text stands in for all-MiniLM-L6-v2, so these tests run offline and fast.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from restore.tagger.batch import collate
from restore.tagger.context import ContextVectors
from restore.tagger.engine import (
    MAX_ALTERNATIVES,
    MIN_ALTERNATIVE,
    Evidence,
    Proposal,
    TaggerEngine,
    apply_proposals,
)
from restore.tagger.input import CANDIDATE_FEATURES, SITE_FEATURES, UnitPieces, encode_unit
from restore.tagger.inverse import InverseTable
from restore.tagger.model import load_tagger, save_tagger
from restore.tagger.ngram import NgramModel
from restore.text import prepare_unit, tokenize
from tests.conftest import fixture_texts
from training.models.tagger import build_tagger, load_pieces, warm_start
from training.tagger.context import build_context_vectors
from training.tagger.data import NOT_SPUN, UNREACHABLE, label_unit
from training.tagger.ngram import build_ngram_model

ROOT = Path(__file__).parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"

TABLE = InverseTable(
    {
        "fete": (2.0, [("party", 5.5), ("feast", 4.0)]),
        "ejects": (2.9, [("greets", 4.0), ("hits", 5.3), ("expels", 2.8)]),
        "depository": (2.9, [("bank", 5.2), ("store", 5.0)]),
        "out of doors": (4.5, [("outside", 5.2)]),
    }
)


def unit_input(text, lm, *, context=None, max_candidates=8):
    """``text`` prepared and encoded against TABLE, without word pieces."""
    pieces = UnitPieces(prepare_unit(text))
    return encode_unit(pieces, TABLE, lm=lm, context=context, max_candidates=max_candidates)


def encoded(engine, text):
    """``text`` as ``engine``'s network reads it."""
    return engine.encode_text(text)


def swap(text, word, original):
    """A spinner's substitution of ``original`` by ``word`` (its first occurrence in ``text``)."""
    at = text.index(word)
    return {"spun_start": at, "spun_end": at + len(word), "original": original}


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
def context() -> ContextVectors:
    # Two topics: politics around "party", food around "feast".
    politics = "the party won the election vote and the minister spoke to parliament"
    food = "the feast had cake and wine and bread for dinner at the table"
    return build_context_vectors(
        [politics] * 4 + [food] * 4, min_count=1, skip_frequent=1, window=4, dims=2
    )


@pytest.fixture(scope="module")
def engine(encoder_dir, lm, context) -> TaggerEngine:
    torch.manual_seed(0)
    model = build_tagger(encoder_dir, layers=2).eval()
    return TaggerEngine(
        model, load_pieces(encoder_dir), TABLE, lm, context=context, max_candidates=8
    )


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
    sites = TABLE.match(tokenize("They ate out of doors, then the fete ended."))
    assert [(s.key, s.start, s.end) for s in sites] == [("out of doors", 9, 21), ("fete", 32, 36)]


def test_the_inverse_table_command_builds_from_the_lm_vocabulary(tmp_path, caplog, monkeypatch):
    from training.tagger import inverse as inverse_table

    seen = []
    # The whole lexicon takes a minute to invert; the command's own work is what is tested.
    monkeypatch.setattr(inverse_table.Lexicon, "load", classmethod(lambda cls: "lexicon"))
    monkeypatch.setattr(
        inverse_table,
        "build_inverse_table",
        lambda vocab, lexicon, **kw: seen.append(vocab) or TABLE,
    )
    lm = tmp_path / "ngram"
    build_ngram_model(["the fete ended", "the feast ended"], min_count=1).save(lm)
    out = tmp_path / "inverse.npz"
    with caplog.at_level("INFO"):
        assert inverse_table.main(["--lm", str(lm), "--output", str(out)]) == 0
    assert {"the", "fete", "feast", "ended"} <= set(seen[0]) and InverseTable.load(out) == TABLE
    originals = sum(len(c) for _, c in TABLE.entries().values())
    assert f"{len(TABLE)} keys, {originals} originals" in caplog.text
    assert inverse_table.main(["--lm", str(lm), "--output", str(out)]) == 2  # no --overwrite


RELATIONS = {
    "fete": [{"rel": 120}, {"syn": 4}],
    "ejects": [{}, {"rel": 200}, {"syn": 3, "rel": 40}],
    "depository": [{"hypo": 9}, {}],
    "out of doors": [{"sim": 2}],
}


def test_inverse_table_keeps_how_each_entry_lists_its_key(tmp_path):
    from restore.tagger.inverse import RELATION_FEATURES

    table = InverseTable(TABLE.entries(), RELATIONS)
    assert table.has_relations and not TABLE.has_relations
    ejects = table.relations("ejects")
    assert ejects.shape == (3, RELATION_FEATURES) and ejects.dtype == np.float32
    # Flags for syn, sim, rel, hyper, hypo, then the log of the entry's size under each.
    assert ejects[0].tolist() == [0.0] * RELATION_FEATURES
    assert ejects[2, :5].tolist() == [1, 0, 1, 0, 0]
    assert ejects[2, 5:].tolist() == pytest.approx([math.log(3), 0, math.log(40), 0, 0])
    assert table.relations("zeppelin").shape == (0, RELATION_FEATURES)
    assert not TABLE.relations("ejects").any() and TABLE.relations("ejects").shape == (3, 10)
    path = tmp_path / "inverse.npz"
    table.save(path)
    loaded = InverseTable.load(path)
    assert loaded == table and loaded != TABLE
    assert np.array_equal(loaded.relations("depository"), table.relations("depository"))
    with pytest.raises(ValueError, match="one to one"):
        InverseTable(TABLE.entries(), {**RELATIONS, "fete": [{}]})


def test_entry_relations_say_how_the_lexicon_lists_a_spun_word():
    from training.lexicon import Lexicon
    from training.tagger.inverse import EntryRelations

    listing = EntryRelations(Lexicon.load())
    # "snatch" is among the WordNet synonyms of "snap", whatever their inflection.
    assert listing("snapped", "snatched") == {"syn": 13} == listing("snap", "snatch")
    assert listing("snapped", "zeppelins") == {}


def test_the_default_table_reads_the_phrases_other_spinners_write():
    from restore.loading import DEFAULT_MODEL_DIR
    from training.baselines import InverseThesaurusRestorer
    from training.lexicon import Lexicon
    from training.tagger.inverse import SPUN_PHRASES

    lexicon = Lexicon.load()
    thesaurus = InverseThesaurusRestorer(lexicon, margin=-99.0, phrases=True)
    ours = {a.lower() for w in lexicon.function_words() for a in lexicon.function_alternatives(w)}
    table = InverseTable.load(DEFAULT_MODEL_DIR / "inverse.npz")
    for original, phrases in SPUN_PHRASES.items():
        for phrase in phrases:
            # A key of its own: adding it took no originals from a key our thesauri make.
            assert not thesaurus.options(phrase) and phrase not in ours, phrase
            assert original in dict(table.candidates(phrase)), phrase
            assert table.zipf(phrase) > 3  # rated as the lexicon rates phrases, not as unknown
    sites = table.match(tokenize("Be that as it may, he was relied upon to win."))
    assert [s.key for s in sites][:2] == ["be that as it may", "relied upon to"]


def test_inverse_table_leaves_names_alone():
    assert [s.key for s in TABLE.match(tokenize("Fete began when Mr Fete came."))] == ["fete"]


def test_encode_unit_features_prefer_the_candidate_the_context_knows(lm):
    unit = unit_input("The fete greets journalists.", lm, context=None, max_candidates=8)
    (site,) = unit.sites
    assert site.candidates == ("party", "feast")
    assert site.features.shape == (2, CANDIDATE_FEATURES)
    assert site.site_features.shape == (SITE_FEATURES,)
    gain_party, gain_feast = site.features[:, 0]
    assert gain_party > 0  # "the party greets" is in the n-gram counts
    assert gain_feast == 0  # "feast" and "fete" are both unknown to it: no evidence either way
    assert site.site_features[0] == pytest.approx(gain_party)  # the best gain
    assert (site.features[:, 5] == 0).all() and site.site_features[3] == 0  # no topic vectors


def test_context_vectors_put_words_of_one_topic_together_and_round_trip(context, tmp_path):
    topic = context.topic(["election", "minister", "vote"])
    assert context.fit("party", topic) > context.fit("feast", topic)
    food = context.topic(["cake", "bread"])
    assert context.fit("feast", food) > context.fit("party", food)
    path = tmp_path / "context.npz"
    context.save(path)
    again = ContextVectors.load(path)
    assert again.words == context.words and np.array_equal(again.vectors, context.vectors)
    with pytest.raises(ValueError, match="2 words but 1 vectors"):
        ContextVectors(["a", "b"], np.zeros((1, 2), dtype=np.float16))


def test_topic_fit_feature_prefers_the_candidate_of_the_paragraphs_topic(lm, context):
    politics = "The minister said the fete won the election vote."
    food = "The fete had cake and wine and bread."
    (site,) = unit_input(politics, lm, context=context, max_candidates=8).sites
    assert site.candidates == ("party", "feast")
    fit_party, fit_feast = site.features[:, 5]
    assert fit_party > fit_feast
    (site,) = unit_input(food, lm, context=context, max_candidates=8).sites
    fit_party, fit_feast = site.features[:, 5]
    assert fit_feast > fit_party


def test_encode_unit_caps_candidates_and_handles_text_without_sites(lm, context):
    unit = unit_input("Ejects.", lm, context=None, max_candidates=2)
    assert unit.sites[0].candidates == ("greets", "hits")
    empty = unit_input("Nothing here.", lm, context=None, max_candidates=2)
    assert empty.sites == () and [t.text for t in empty.tokens] == ["Nothing", "here", "."]
    for text in ("", "  "):
        blank = unit_input(text, lm, context=context)
        assert blank.sites == () and blank.tokens == ()


def test_a_model_reads_more_candidates_than_it_trained_on_without_moving_the_first(lm, context):
    from restore.errors import ModelFormatError
    from restore.tagger.settings import TaggerSettings

    text = "The fete ejects journalists outside the depository."
    trained = unit_input(text, lm, context=context, max_candidates=1)
    wide = encode_unit(
        UnitPieces(prepare_unit(text)),
        TABLE,
        lm=lm,
        context=context,
        max_candidates=3,
        trained_candidates=1,
    )
    assert any(len(site.candidates) > 1 for site in wide.sites)
    for old, new in zip(trained.sites, wide.sites, strict=True):
        assert new.candidates[:1] == old.candidates
        np.testing.assert_array_equal(new.features[:1], old.features)
        # The count feature stays in the range it learned; only the best gain may grow.
        np.testing.assert_array_equal(new.site_features[1:], old.site_features[1:])
        assert [float(f) for f in new.features[:, 3]] == list(range(len(new.candidates)))
    with pytest.raises(ModelFormatError, match="trained_candidates"):
        TaggerSettings(trained_candidates=0).validate()


def test_each_lm_gain_is_the_span_score_of_the_candidate_less_the_written_words(lm):
    # Sites at the start, inside and at the end of the unit, a phrase key and a phrase original.
    text = "Ejects the fete out of doors and the depository"
    unit = unit_input(text, lm)
    words = [t.text.lower() for t in unit.tokens]
    assert [s.key for s in unit.sites] == ["ejects", "fete", "out of doors", "depository"]
    for site in unit.sites:
        left, right = words[: site.first], words[site.last + 1 :]
        written = lm.score_span(left, words[site.first : site.last + 1], right)
        for cand, gain in zip(site.candidates, site.features[:, 0]):
            expected = np.clip(lm.score_span(left, cand.split(" "), right) - written, -15, 15)
            assert gain == pytest.approx(expected / 5.0, abs=1e-6), (site.key, cand)


def test_a_keys_originals_as_arrays_are_its_candidates():
    table = InverseTable(
        {**TABLE.entries(), "hits": (5.0, [("greets", 4.0), ("press conference", 3.337)])}
    )
    for key in ("ejects", "hits", "out of doors", "unknown"):
        for limit in (1, 2, 8):
            originals = table.originals(key, limit)
            cands = table.candidates(key)[:limit]
            assert originals.words == tuple(c for c, _ in cands)
            assert originals.zipf.tolist() == [z for _, z in cands]
            assert originals.word_counts.tolist() == [c.count(" ") + 1 for c, _ in cands]
            assert [table._words[i] for i in originals.ids] == list(originals.words)


def test_piece_encoder_encodes_candidates_as_the_tokenizer_does(encoder_dir):
    pieces = load_pieces(encoder_dir)
    texts = ["party", "greets", "press conference", "Fête", "zzyzxq", "u.s.", "party", ""]
    expected = [
        pieces.tokenizer.encode(t, add_special_tokens=False).ids[:6] or [pieces.pad_id]
        for t in texts
    ]
    assert pieces.candidates(texts) == expected
    assert pieces.candidates(texts[::-1]) == expected[::-1]  # now from the cache


# -- batching and the network ----------------------------------------------------------------


def test_piece_encoder_marks_the_first_piece_of_every_token(encoder_dir, lm):
    pieces = load_pieces(encoder_dir)
    unit = prepare_unit("The fete ejects journalists.")
    measured = pieces.unit(unit)
    ids, first = measured.ids, list(measured.first)
    assert ids[0] == pieces.tokenizer.token_to_id("[CLS]")
    assert ids[-1] == pieces.tokenizer.token_to_id("[SEP]")
    assert len(first) == len(unit.tokens) and first == sorted(set(first)) and first[0] == 1


def test_collate_and_forward_shapes_and_masks(engine):
    units = [encoded(engine, "The fete ejects journalists."), encoded(engine, "None here.")]
    batch = collate(units, engine.pieces)
    out = engine.model(batch)
    assert out.word_logits.shape == (2, 5)
    assert out.cand_logits.shape == (2, 3)  # two sites, at most three candidates
    assert torch.isinf(out.cand_logits[0, 2]) and torch.isfinite(out.cand_logits[1]).all()
    assert batch.word_mask.tolist() == [[True] * 5, [True] * 3 + [False] * 2]
    # Every slot points at its own candidate's pieces; each distinct candidate is there once.
    sites = [site for unit in units for site in unit.sites]
    rows = batch.pieces.tolist()
    for i, site in enumerate(sites):
        want = engine.pieces.candidates(site.candidates)
        got = [rows[j][: len(w)] for j, w in zip(batch.cand_index[i].tolist(), want)]
        assert got == want
    assert len(rows) == len({c for site in sites for c in site.candidates})
    covered = list(zip(batch.site_word_batch.tolist(), batch.site_word_index.tolist()))
    assert covered == [(0, 1), (0, 2)]


def test_scores_are_the_same_alone_and_in_a_batch(engine):
    a = encoded(engine, "The fete ejects journalists outside the depository.")
    b = encoded(engine, "A fete.")
    alone = engine.score([a])[0]
    together = engine.score([b, a])[1]
    assert [p.restored for p in alone.proposals] == [p.restored for p in together.proposals]
    for x, y in zip(alone.proposals, together.proposals):
        assert x.confidence == pytest.approx(y.confidence, abs=1e-5)


def test_proposals_keep_the_spun_casing_and_apply_exactly(engine):
    unit = encoded(engine, "Fete ejects people.")
    result = engine.score([unit])[0]
    assert [p.spun for p in result.proposals] == ["Fete", "ejects"]
    assert result.proposals[0].restored[0].isupper()
    assert all(0.0 <= p.confidence <= 1.0 for p in result.proposals)
    proposals = [Proposal(0, 4, "Fete", "Party", 0.9), Proposal(5, 11, "ejects", "greets", 0.2)]
    assert apply_proposals(unit.text, proposals) == "Party greets people."
    assert apply_proposals(unit.text, [p for p in proposals if p.confidence >= 0.5]) == (
        "Party ejects people."
    )


def test_each_proposal_names_its_sites_next_likeliest_originals(engine):
    unit = encoded(engine, "Fete ejects people at the depository.")
    _, log_probs = engine.forward([unit])
    proposals = engine.score([unit])[0].proposals
    assert len(proposals) == len(unit.sites) == 3
    for site, lp, proposal in zip(unit.sites, log_probs, proposals):
        probs = engine.choice(site, lp)
        ranked = sorted(zip(probs.tolist(), site.candidates), reverse=True)
        assert proposal.restored.lower() == ranked[0][1]
        named = [(w, p) for p, w in ranked[1 : 1 + MAX_ALTERNATIVES] if p >= MIN_ALTERNATIVE]
        assert [(w.lower(), p) for w, p in proposal.alternatives] == [
            (w, pytest.approx(p)) for w, p in named
        ]
        assert all(w[0].isupper() == proposal.spun[0].isupper() for w, _ in proposal.alternatives)
    # "ejects" has three candidates and an untrained network spreads its belief over them.
    assert len(proposals[1].alternatives) == 2


def test_saved_tagger_reloads_with_the_same_outputs(engine, tmp_path):
    save_tagger(engine.model, tmp_path, dtype=torch.float32)
    reloaded = load_tagger(tmp_path)
    batch = collate([encoded(engine, "The fete ejects journalists.")], engine.pieces)
    with torch.inference_mode():
        a, b = engine.model(batch), reloaded(batch)
    assert torch.allclose(a.word_logits, b.word_logits)
    assert torch.equal(torch.isinf(a.cand_logits), torch.isinf(b.cand_logits))


def test_warm_start_from_a_tagger_with_fewer_evidence_features_scores_the_same(
    engine, encoder_dir, tmp_path
):
    from safetensors.torch import load_file, save_file

    old = copy.deepcopy(engine.model)
    with torch.no_grad():  # what a tagger saved before the last feature existed amounts to
        old.evidence[0].weight[:, -1] = 0
        old.site_detect.weight[:, -1] = 0
    save_tagger(old, tmp_path, dtype=torch.float32)
    state = load_file(str(tmp_path / "model.safetensors"))
    for name in ("evidence.0.weight", "site_detect.weight"):
        state[name] = state[name][:, :-1].contiguous()
    save_file(state, str(tmp_path / "model.safetensors"))
    torch.manual_seed(5)
    warm = warm_start(build_tagger(encoder_dir, layers=2), tmp_path).eval()
    batch = collate([encoded(engine, "The fete ejects journalists.")], engine.pieces)
    with torch.inference_mode():
        a, b = old(batch), warm(batch)
    assert torch.allclose(a.word_logits, b.word_logits, atol=1e-6)
    assert torch.allclose(a.cand_logits, b.cand_logits, atol=1e-6)
    from training.errors import TrainingError

    state["query.weight"] = state["query.weight"][:, :3].contiguous()
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(TrainingError, match="query.weight"):
        warm_start(build_tagger(encoder_dir, layers=2), tmp_path)


# -- labels and training ---------------------------------------------------------------------


def test_label_unit_marks_spun_words_and_reachable_originals(engine):
    unit = encoded(engine, "The fete ejects the crowd from the depository.")
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


def test_worker_processes_make_the_same_batches_in_the_same_order(engine):
    from training.config import TaggerConfig
    from training.tagger.data import iter_batches

    texts = [
        "The fete ejects journalists.",
        "The depository greets the crowd.",
        "The party won.",
        "The fete ejects the crowd from the depository.",
        "The crowd greets the fete.",
    ]
    rows = [{"spun": t, "substitutions": [swap(t, t.split()[1], "party")]} for t in texts]
    serial = TaggerConfig(batch_size=2, max_pieces=40)
    forked = TaggerConfig(batch_size=2, max_pieces=40, workers=2)
    # Windows of 2 x 1 rows: three windows from row 0, two from row 1.
    for start, resumes in ((0, [2, 4, 5]), (1, [3, 5])):
        a = list(iter_batches(rows, engine, serial, start=start, window=1))
        b = list(iter_batches(rows, engine, forked, start=start, window=1))
        assert [r for r, _, _ in a] == [r for r, _, _ in b] == resumes
        for (_, x, la), (_, y, lb) in zip(a, b):
            assert la == lb
            assert all(torch.equal(u, v) for u, v in zip(vars(x).values(), vars(y).values()))
    rows.insert(1, {"spun": "The " + "crowd " * 60, "substitutions": []})  # too long: skipped
    kept = list(iter_batches(rows, engine, forked, window=1))
    assert sum(len(labels) for _, _, labels in kept) == 5


def test_a_warm_started_tagger_needs_only_the_encoders_shape(engine, encoder_dir, tmp_path):
    save_tagger(engine.model, tmp_path, dtype=torch.float32)
    shape_only = build_tagger(encoder_dir, layers=2, pretrained=False)
    warm = warm_start(shape_only, tmp_path).eval()
    batch = collate([encoded(engine, "The fete ejects journalists.")], engine.pieces)
    with torch.inference_mode():
        assert torch.equal(warm(batch).word_logits, engine.model(batch).word_logits)


def test_training_steps_lower_the_loss(encoder_dir, lm):
    from training.tagger.evaluate import evaluate
    from training.tagger.train import losses

    torch.manual_seed(0)
    model = build_tagger(encoder_dir, layers=2)
    pieces = load_pieces(encoder_dir)
    eng = TaggerEngine(model, pieces, TABLE, lm, context=None, max_candidates=8)
    unit = encoded(eng, "The fete ejects journalists outside the depository.")
    subs = [{"spun_start": 4, "spun_end": 8, "original": "party"}]
    labels = label_unit(unit, subs, pieces)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(15):
        parts = losses(model, collate([unit], pieces), [labels])
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
    # Evaluation scores edits at the threshold with the best F0.5: here the one that lets
    # "party" through, not the one that withholds everything.
    row = {
        "spun": unit.text,
        "original": "The party ejects journalists outside the depository.",
        "substitutions": subs,
    }
    scores = evaluate(eng, [row], thresholds=(1.1, 0.0))
    assert scores["threshold"] == 0.0 and scores["recall"] == 1.0
    assert scores["choice_acc"] == 1.0 and scores["reach"] == 1.0


# -- the model directory and the Restorer ----------------------------------------------------


@pytest.fixture(scope="module")
def tagger_model_dir(tmp_path_factory, encoder_dir, lm, context):
    """A tiny tagger model directory, as ``python -m training.tagger`` writes it."""
    from training.config import TaggerConfig
    from training.tagger.export import run_summary, write_model_dir

    root = tmp_path_factory.mktemp("tagger")
    torch.manual_seed(1)
    save_tagger(build_tagger(encoder_dir, layers=2), root / "best", dtype=torch.float32)
    header = "step,seconds,eval_precision,eval_recall,eval_f0.5,eval_detect_f1,eval_choice_acc"
    (root / "log.csv").write_text(
        f"{header},eval_reach\n10,60,0.5,0.2,0.4,0.6,0.5,0.9\n20,120,0.6,0.2,0.45,0.6,0.5,0.9\n"
    )
    config = TaggerConfig(max_candidates=8, max_pieces=64)
    return write_model_dir(
        root / "best",
        root / "model",
        encoder_dir=encoder_dir,
        table=TABLE,
        lm=lm,
        context=context,
        config=config,
        run=run_summary(root, "runs/x/pairs"),
    )


def test_restorer_loads_a_tagger_and_keeps_the_text_outside_its_edits(tagger_model_dir):
    from restore import Restorer

    restorer = Restorer.from_pretrained(
        tagger_model_dir, threads=1, guard={"min_edit_confidence": 0}
    )
    text = "The  fete ejects journalists\noutside the depository, on 3 May."
    result = restorer.restore_detailed(text)
    assert result.edits, "a random tagger still proposes something above the floor"
    pos, rebuilt = 0, []
    for edit in result.edits:
        assert text[edit.start : edit.end] == edit.spun
        assert edit.restored.lower() in {c for c, _ in TABLE.candidates(edit.spun.lower())}
        rebuilt += [text[pos : edit.start], edit.restored]
        pos = edit.end
    assert "".join(rebuilt + [text[pos:]]) == result.text
    assert result.text.endswith(", on 3 May.") and "  " in result.text and "\n" in result.text
    again = Restorer.from_pretrained(tagger_model_dir, threads=1, guard={"min_edit_confidence": 0})
    assert again.restore_detailed(text) == result  # deterministic


def test_edits_and_suggestions_carry_the_alternatives_of_their_proposals(tagger_model_dir):
    from restore import Restorer

    text = "Fete ejects journalists outside the depository.\n\nThe depository ejects people."
    restorer = Restorer.from_pretrained(tagger_model_dir, threads=1)
    [units] = restorer.unit_outputs([text])
    named = {(s + p.start, s + p.end): p for s, _, scores in units for p in scores.proposals}
    result = restorer.restore_detailed(text)
    shown = [*result.edits, *result.suggestions]
    assert shown and any(e.alternatives for e in shown)
    for e in shown:
        proposal = named[(e.start, e.end)]
        scale = e.confidence / proposal.evidence.choice
        assert [(a.restored, a.confidence) for a in e.alternatives] == [
            (w, pytest.approx(q * scale)) for w, q in proposal.alternatives
        ]
        assert all(a.confidence <= e.confidence for a in e.alternatives)
    data = json.loads(json.dumps(result.to_dict()))
    first = next(e for e in data["edits"] + data["suggestions"] if e["alternatives"])
    assert set(first["alternatives"][0]) == {"restored", "confidence"}


def test_a_ray_table_keeps_each_edits_alternatives(tagger_model_dir):
    pa = pytest.importorskip("pyarrow")
    from restore import Restorer
    from restore.ray_batch import restore_table

    restorer = Restorer.from_pretrained(tagger_model_dir, threads=1)
    texts = ["Fete ejects journalists outside the depository.", "The depository ejects people."]
    out = restore_table(restorer, pa.table({"text": texts}), "text", suggestions=True)
    for i, text in enumerate(texts):
        want = restorer.restore_detailed(text).to_dict()
        for column in ("edits", "suggestions"):
            got = out.column(column).to_pylist()[i]
            # The same words; confidences as equal as batching units otherwise lets them be.
            assert [[a["restored"] for a in e["alternatives"]] for e in got] == [
                [a["restored"] for a in e["alternatives"]] for e in want[column]
            ]
            assert [[a["confidence"] for a in e["alternatives"]] for e in got] == [
                [pytest.approx(a["confidence"], rel=1e-5) for a in e["alternatives"]]
                for e in want[column]
            ]
    assert any(e["alternatives"] for row in out.column("suggestions").to_pylist() for e in row)


def test_tagger_threshold_withholds_and_detection_reads_the_same_pass(tagger_model_dir):
    from restore import Restorer

    restorer = Restorer.from_pretrained(
        tagger_model_dir, threads=1, guard={"min_edit_confidence": 0}
    )
    text = "The fete ejects journalists outside the depository."
    result = restorer.restore_detailed(text)
    strict = Restorer.from_pretrained(
        tagger_model_dir, threads=1, guard={"min_edit_confidence": 1.0}
    )
    assert strict.restore(text) == text
    assert strict.restore_detailed(text).units[0].reasons == ("low_edit_confidence",)
    assert restorer.detects
    detection = restorer.detect(text)
    judged = {(w.start, w.end): w.probability for w in detection.words}
    assert set(judged) == {(a, b) for a, b, _ in result.word_spin}  # every word is judged
    assert all(0.0 < p < 1.0 for p in judged.values())
    assert detection.spin_score == pytest.approx(sum(judged.values()) / len(judged))


def test_tagger_backends_int8_and_refusals(tagger_model_dir, tmp_path):
    from restore import BackendError, Restorer

    text = "The fete ejects journalists outside the depository."
    fp32 = Restorer.from_pretrained(tagger_model_dir, threads=1, guard={"min_edit_confidence": 0})
    int8 = Restorer.from_pretrained(
        tagger_model_dir, backend="torch-int8", threads=1, guard={"min_edit_confidence": 0}
    )
    assert [w[:2] for w in int8.restore_detailed(text).word_spin] == [
        w[:2] for w in fp32.restore_detailed(text).word_spin
    ]
    with pytest.raises(BackendError, match="tagger"):
        Restorer.from_pretrained(tagger_model_dir, backend="ctranslate2")
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tagger_model_dir.iterdir():
        if f.is_file() and f.name != "inverse.npz":
            (broken / f.name).write_bytes(f.read_bytes())
    with pytest.raises(BackendError, match="cannot load the tagger"):
        Restorer.from_pretrained(broken)


def test_a_sentence_too_long_for_the_encoder_is_cut_into_units_that_fit(tagger_model_dir):
    from restore import Restorer

    restorer = Restorer.from_pretrained(
        tagger_model_dir, threads=1, guard={"min_edit_confidence": 1}
    )
    # One sentence of 80 words is more than the encoder's 64 pieces: it is cut at word bounds.
    long_sentence = " ".join(["fete"] * 80) + "."
    text = f"The fete ended. {long_sentence}"
    result = restorer.restore_detailed(text)
    assert result.text == text
    assert len(result.units) >= 3
    assert all(u.status == "unchanged" for u in result.units)
    assert result.units[-1].end == len(text)


def test_run_summary_reports_the_exported_weights_evaluation(tmp_path):
    from training.tagger.export import run_summary

    (tmp_path / "log.csv").write_text(
        "step,seconds,eval_f0.5,eval_threshold\n10,60,0.5,0.5\n20,120,0.4,0.7\n"
    )
    best = run_summary(tmp_path, "pairs")
    last = run_summary(tmp_path, "pairs", weights="last", init="runs/a/best")
    assert (best["valid"]["step"], best["valid"]["f0.5"]) == (10, 0.5)
    assert (last["valid"]["step"], last["valid"]["threshold"]) == (20, 0.7)
    assert best["train"]["steps"] == last["train"]["steps"] == 20
    assert last["train"]["init"] == "runs/a/best" and "init" not in best["train"]


def test_tagger_card_reports_the_best_evaluation_and_takes_test_results(tagger_model_dir, tmp_path):
    import json
    import shutil

    from training.card import write_tagger_card

    model = tmp_path / "model"
    shutil.copytree(tagger_model_dir, model)
    card = (model / "README.md").read_text()
    assert "step 20" in card and "F0.5 0.450" in card and "2 min" in card
    run = {
        "system": "tagger",
        "rate": 0.3,
        "precision": 0.7,
        "recall": 0.4,
        "f0.5": 0.61,
        "false_changes_per_100_tokens": 0.25,
        "bleu": 80.0,
        "chrf": 88.0,
        "copy_bleu": 72.0,
    }
    write_tagger_card(model, {"command": "python scripts/evaluate.py ...", "runs": [run]})
    card = (model / "README.md").read_text()
    assert "| 0.3 | tagger | 0.700 | 0.400 | 0.610 | 0.25 |" in card
    assert json.loads((model / "metrics.json").read_text())["test"]["runs"] == [run]
    probe = {**run, "system": "probe", "f0.5": 0.55}
    write_tagger_card(model, withheld={"note": "Trained without Moby.", "runs": [probe]})
    card = (model / "README.md").read_text()
    assert "| 0.3 | tagger | 0.700 | 0.400 | 0.610 | 0.25 |" in card  # the test table stays
    assert "## A thesaurus withheld from training\n\nTrained without Moby." in card
    assert "| 0.3 | probe | 0.700 | 0.400 | 0.550 | 0.25 |" in card
    foreign = {**run, "f0.5": 0.41}
    write_tagger_card(model, foreign={"note": "Spun by Webster's synonyms.", "runs": [foreign]})
    card = (model / "README.md").read_text()
    assert "| 0.3 | probe | 0.700 | 0.400 | 0.550 | 0.25 |" in card  # the probe stays
    assert card.index("## A thesaurus withheld") < card.index("## A thesaurus we never train on")
    assert "## A thesaurus we never train on\n\nSpun by Webster's synonyms." in card
    assert "| 0.3 | tagger | 0.700 | 0.400 | 0.410 | 0.25 |" in card


def test_a_restorer_follows_a_new_guard_threshold_between_runs(tagger_model_dir):
    """training.calibrate sweeps thresholds on one loaded restorer this way."""
    import dataclasses

    from restore import Restorer

    restorer = Restorer.from_pretrained(tagger_model_dir, threads=1)
    text = "The fete ejects journalists outside the depository."
    restorer.guard = dataclasses.replace(restorer.guard, min_edit_confidence=0.0)
    loose = restorer.restore_detailed(text).edits
    restorer.guard = dataclasses.replace(restorer.guard, min_edit_confidence=1.0)
    assert loose and restorer.restore_detailed(text).edits == ()


def test_calibration_scores_every_threshold_and_saves_the_chosen_one(tagger_model_dir, tmp_path):
    import shutil

    from restore import Restorer
    from restore.formats import load_settings
    from training.calibrate import calibrate, save_choice

    model = tmp_path / "model"
    shutil.copytree(tagger_model_dir, model)
    restorer = Restorer.from_pretrained(model, threads=1)
    spun = "The fete ejects journalists outside the depository."
    fete = swap(spun, "fete", "party")
    rows = [
        {"spun": spun, "original": spun.replace("fete", "party"), "substitutions": [fete]},
        {"spun": "The party ended.", "original": "The party ended.", "substitutions": []},
    ]
    result = calibrate(restorer, rows, thresholds=(0.0, 1.01))
    assert [r["threshold"] for r in result.results] == [0.0, 1.01]
    loose, strict = result.results
    assert strict["recall"] == 0.0 and strict["false_changes_per_100_tokens"] == 0.0
    assert loose["recall"] > 0.0  # the tiny model restores "party" with the guard open
    best = result.best(max_false_changes=0.0)
    allowed = [r for r in result.results if r["false_changes_per_100_tokens"] == 0.0]
    assert best == max(allowed, key=lambda r: r["f0.5"])
    save_choice(model, result, best)
    saved = load_settings(model)
    assert saved.guard.min_edit_confidence == best["threshold"]
    assert saved.options.edit_rule is None


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
def test_calibration_fits_its_rule_on_whole_documents_too(tagger_model_dir, monkeypatch):
    import importlib.util

    from training import evaluation
    from training.calibrate import Calibration

    spec = importlib.util.spec_from_file_location("calibrate_cli", ROOT / "scripts/calibrate.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    seen = {}

    def recording(restorer, rows, fit_rows=(), **options):
        seen.update(rows=rows, fit_rows=fit_rows)
        return Calibration([{"f0.5": 0.5, "false_changes_per_100_tokens": 0.0}], {}, {})

    monkeypatch.setattr(cli, "calibrate", recording)
    args = ["--model", str(tagger_model_dir), "--corpus", str(CORPUS), "--rate", "0.3"]
    sizes = ["--max-paragraphs", "4", "--fit-paragraphs", "4", "--fit-documents", "6"]
    assert cli.main([*args, *sizes]) == 0
    # Scored on 4 paragraphs, spun and clean; fitted on 4 others and on whole documents, each
    # one text, spun and clean, none of them a document of the scored paragraphs.
    assert len(seen["rows"]) == 8
    documents = seen["fit_rows"][8:]
    assert documents and all("\n\n" in row["spun"] for row in documents)
    assert sorted(row["rate"] for row in documents) == [0.0, 0.3] * (len(documents) // 2)
    held = evaluation.select_paragraphs(CORPUS, "valid", max_paragraphs=4)
    assert not {row["id"] for row in documents} & {evaluation.document_of(p.id) for p in held}
    for row in documents:
        for swap in row["substitutions"]:
            assert (
                row["spun"][swap["spun_start"] : swap["spun_end"]].lower()
                == swap["replacement"].lower()
            )


def test_document_features_see_the_other_words_of_the_unit_and_document():
    from restore.tagger.edit_rule import FEATURES, document_features
    from restore.tagger.engine import Proposal, UnitScores

    evidence = Evidence(0.9, 0.6, 0.3, 4, (0.0,) * 6, (0.0,) * 4)
    first = UnitScores(
        ((0, 4, 0.9), (5, 9, 0.1), (10, 14, 0.6)),
        (Proposal(0, 4, "fete", "party", 0.54, evidence),),
    )
    second = UnitScores(((0, 4, 0.8), (5, 9, 0.7)), ())
    rows = document_features([first, second])
    assert [r.shape for r in rows] == [(1, len(FEATURES)), (0, len(FEATURES))]
    f = dict(zip(FEATURES, rows[0][0]))
    assert f["choice_margin"] == pytest.approx(math.log(0.6001 / 0.3001))
    # The proposal's own word (0.9) is not evidence for itself.
    assert f["unit_other_suspects"] == pytest.approx(0.1) and f["unit_lone"] == 1.0
    assert f["unit_other_mean_spin"] == pytest.approx(0.35)
    assert f["unit_other_max_spin"] == pytest.approx(0.6)
    assert f["doc_other_suspect_share"] == pytest.approx(3 / 4)
    assert f["log_doc_words"] == pytest.approx(math.log(6))


def assert_malformed(model, key, value) -> None:
    """Loading ``model`` with ``restore.json``'s ``key`` set to ``value`` says it is malformed."""
    from restore.formats import load_settings
    from restore.settings import ModelFormatError

    settings = json.loads((model / "restore.json").read_text())
    settings["tagger"][key] = value
    (model / "restore.json").write_text(json.dumps(settings))
    with pytest.raises(ModelFormatError, match="malformed"):
        load_settings(model)


def test_an_edit_rule_reaches_the_restorer_and_is_checked(tagger_model_dir, tmp_path):
    import shutil

    from restore import Restorer
    from restore.formats import load_settings
    from restore.formats.tagger import PROPOSAL_FLOOR
    from restore.settings import ModelFormatError, save_settings
    from restore.tagger.edit_rule import FEATURES, EditRule

    model = tmp_path / "model"
    shutil.copytree(tagger_model_dir, model)
    text = "The fete ejects journalists outside the depository."
    loose = Restorer.from_pretrained(model, threads=1, guard={"min_edit_confidence": 0.0})
    plain = loose.restore_detailed(text).edits
    n = len(FEATURES)
    # Only the model's own log confidence, with weight 1: the rule gives back conf / (1 + conf).
    weights = tuple(float(name == "log_confidence") for name in FEATURES)
    rule = EditRule(FEATURES, (0.0,) * n, (1.0,) * n, weights, 0.0)
    save_settings(load_settings(model).with_options(edit_rule=rule), model)
    assert load_settings(model).options.edit_rule == rule
    ruled = Restorer.from_pretrained(model, threads=1, guard={"min_edit_confidence": 0.0})
    edits = ruled.restore_detailed(text).edits
    expected = [(e.restored, (e.confidence + 1e-4) / (1 + e.confidence + 1e-4)) for e in plain]
    expected = [(r, c) for r, c in expected if c >= PROPOSAL_FLOOR]
    assert expected and [e.restored for e in edits] == [r for r, _ in expected]
    assert [e.confidence for e in edits] == pytest.approx([c for _, c in expected], rel=1e-4)
    with pytest.raises(ModelFormatError, match="features"):
        EditRule(FEATURES[:-1], (0.0,) * n, (1.0,) * n, weights, 0.0)
    with pytest.raises(ModelFormatError, match="scales"):
        EditRule(FEATURES, (0.0,) * n, (0.0,) * n, weights, 0.0)
    assert_malformed(model, "edit_rule", {"features": list(FEATURES)})


def test_an_edit_rule_is_fitted_on_labelled_proposals(tagger_model_dir):
    from restore import Restorer
    from training.tagger.edit_rule import fit_rule, labelled_features

    restorer = Restorer.from_pretrained(tagger_model_dir, threads=1)
    texts = ["The fete ejects journalists outside the depository.", "The fete ended."]
    outputs = restorer.unit_outputs(texts)
    proposals = [
        (row, start + p.start, p.restored)
        for row, units in enumerate(outputs)
        for start, _, unit in units
        for p in unit.proposals
    ]
    # Whatever this tiny model proposes for the first "fete" is, say, the original.
    (restored,) = [r for row, at, r in proposals if row == 0 and at == 4]
    swap = {"spun_start": 4, "spun_end": 8, "original": restored.upper()}
    rows = [{"spun": texts[0], "substitutions": [swap]}, {"spun": texts[1]}]
    features, labels = labelled_features(restorer, rows)
    assert len(features) == len(labels) == len(proposals) > 1
    assert labels.tolist() == [row == 0 and at == 4 for row, at, _ in proposals]
    rule = fit_rule(features, labels.copy())
    assert rule.probabilities(features).shape == labels.shape
    with pytest.raises(ValueError, match="restore swaps"):
        fit_rule(features, labels & False)


def _two_trees():
    """Tree one splits on the proposal's log confidence at -1 (leaves -2 and +1); tree two is
    one leaf, 0.5; the bias is 0.1."""
    from restore.tagger.edit_rule import FEATURES, EditTrees

    at = FEATURES.index("log_confidence")
    return EditTrees(
        FEATURES,
        (0, 3),
        (at, -1, -1, -1),
        (-1.0, 0, 0, 0),
        (1, -1, -1, -1),
        (2, -1, -1, -1),
        (0.0, -2.0, 1.0, 0.5),
        0.1,
    )


def test_edit_trees_walk_each_row_to_its_leaves(tagger_model_dir, tmp_path):
    import dataclasses
    import shutil

    from restore import Restorer
    from restore.formats import load_settings
    from restore.settings import ModelFormatError, save_settings
    from restore.tagger.edit_rule import FEATURES, EditTrees

    trees = _two_trees()
    rows = np.zeros((3, len(FEATURES)))
    rows[:, FEATURES.index("log_confidence")] = [-3.0, -1.0, -0.2]  # -1 itself goes left
    expected = 1 / (1 + np.exp(-np.array([0.1 - 2 + 0.5, 0.1 - 2 + 0.5, 0.1 + 1 + 0.5])))
    assert trees.probabilities(rows) == pytest.approx(expected)

    model = tmp_path / "model"
    shutil.copytree(tagger_model_dir, model)
    save_settings(load_settings(model).with_options(edit_rule=trees), model)
    assert load_settings(model).options.edit_rule == trees
    text = "The fete ejects journalists outside the depository."
    restorer = Restorer.from_pretrained(model, threads=1, guard={"min_edit_confidence": 0.0})
    confidences = {round(e.confidence, 6) for e in restorer.restore_detailed(text).edits}
    assert confidences and confidences <= {round(float(p), 6) for p in expected}

    with pytest.raises(ModelFormatError, match="node 0"):  # a child before its parent
        dataclasses.replace(trees, left=(0, -1, -1, -1))
    with pytest.raises(ModelFormatError, match="node 0"):
        dataclasses.replace(trees, feature=(len(FEATURES), -1, -1, -1))
    with pytest.raises(ModelFormatError, match="equally long"):
        dataclasses.replace(trees, value=(0.0,))
    with pytest.raises(ModelFormatError, match="roots"):
        dataclasses.replace(trees, roots=(9,))
    assert isinstance(load_settings(model).options.edit_rule, EditTrees)
    assert_malformed(model, "edit_rule", {"features": list(FEATURES), "roots": [0]})


def test_fitted_trees_give_back_scikit_learns_probabilities():
    import dataclasses

    from restore.tagger.edit_rule import FEATURES, edit_rule_from_dict
    from training.tagger.edit_rule import fit_trees

    rng = np.random.default_rng(0)
    features = rng.normal(size=(600, len(FEATURES)))
    labels = features[:, 0] * features[:, 1] > 0  # an interaction no logistic rule can fit
    trees = fit_trees(features, labels, trees=30)
    p = trees.probabilities(features)
    assert p[labels].mean() > 0.7 > 0.3 > p[~labels].mean()
    assert edit_rule_from_dict(json.loads(json.dumps(dataclasses.asdict(trees)))) == trees
    with pytest.raises(ValueError, match="restore swaps"):
        fit_trees(features, labels & False)


@pytest.fixture
def related_model_dir(tagger_model_dir, tmp_path):
    """The tiny tagger with an inverse table that knows its entries' relations."""
    import shutil

    from restore.tagger.inverse import INVERSE_FILE

    model = tmp_path / "model"
    shutil.copytree(tagger_model_dir, model)
    InverseTable(TABLE.entries(), RELATIONS).save(model / INVERSE_FILE)
    return model


def test_a_choice_rule_reaches_the_restorer_and_is_checked(related_model_dir):

    from restore import Restorer
    from restore.formats import load_settings
    from restore.settings import ModelFormatError, save_settings
    from restore.tagger.choice_rule import FEATURES, ChoiceRule

    model = related_model_dir
    text = "The fete ejects journalists outside the depository."
    guard = {"min_edit_confidence": 0.0}

    def proposals():
        units = Restorer.from_pretrained(model, threads=1, guard=guard).unit_outputs([text])[0]
        return {p.spun: p for _, _, unit in units for p in unit.proposals}

    plain = proposals()
    # A rule that trusts WordNet synonyms above all: "ejects" -> "expels", "fete" -> "feast".
    trust = {"log_choice": 1.0, "listed_syn": 50.0}
    weights = tuple(trust.get(f, 0.0) for f in FEATURES)
    rule = ChoiceRule(FEATURES, weights)
    save_settings(load_settings(model).with_options(choice_rule=rule), model)
    assert load_settings(model).options.choice_rule == rule
    ruled = proposals()
    assert (ruled["ejects"].restored, ruled["fete"].restored) == ("expels", "feast")
    assert ruled["ejects"].evidence.choice == pytest.approx(1.0)  # P(original | spun), the rule's
    # A site whose candidates the rule cannot tell apart keeps the network's order.
    assert ruled["depository"].restored == plain["depository"].restored
    with pytest.raises(ModelFormatError, match="features"):
        ChoiceRule(FEATURES[:-1], weights[:-1])
    with pytest.raises(ModelFormatError, match="finite"):
        ChoiceRule(FEATURES, (math.nan,) + weights[1:])
    assert_malformed(model, "choice_rule", {"weights": list(weights)})


def test_a_choice_rule_is_fitted_on_the_swaps_whose_original_is_a_candidate(related_model_dir):
    from restore import Restorer
    from restore.tagger.choice_rule import FEATURES
    from training.tagger.choice_rule import choice_accuracy, choice_examples, fit_choice_rule

    restorer = Restorer.from_pretrained(related_model_dir, threads=1)
    text = "The fete ejects journalists outside the depository."

    # The spinner drew from WordNet synonyms: the originals are the syn-listed candidates.
    rows = [
        {
            "spun": text,
            "substitutions": [swap(text, "fete", "Feast"), swap(text, "ejects", "expels")],
        },
        {"spun": text, "substitutions": [swap(text, "depository", "vault")]},  # not a candidate
    ] * 3
    examples = choice_examples(restorer, rows)
    assert len(examples) == 6
    assert [k for _, k in examples[:2]] == [1, 2] and examples[0][0].shape == (2, len(FEATURES))
    rule = fit_choice_rule(examples)
    assert choice_accuracy(rule, examples) == 1.0
    assert dict(zip(FEATURES, rule.weights))["listed_syn"] > 1.0
    with pytest.raises(ValueError, match="candidate"):
        fit_choice_rule([])


def test_a_scorer_with_a_cache_scores_each_unit_once_and_gives_the_same(tagger_model_dir):
    from restore import Restorer

    restorer = Restorer.from_pretrained(tagger_model_dir, threads=1)
    scorer = restorer.runtime
    texts = ["The fete ejects journalists outside the depository.", "The fete ended."]
    texts = [scorer.engine.measure(prepare_unit(t)) for t in texts]
    plain = scorer.score_units(texts)
    scorer.cache = {}
    assert scorer.score_units(texts) == plain
    calls = []
    score = scorer.engine.score
    scorer.engine.score = lambda units: calls.append(len(units)) or score(units)
    assert scorer.score_units(texts[::-1]) == plain[::-1]
    assert calls == [0]


def test_the_swap_funnel_puts_every_gold_swap_in_one_bucket(tagger_model_dir):
    from restore import Restorer
    from training.funnel import BUCKETS, swap_funnel

    restorer = Restorer.from_pretrained(tagger_model_dir, threads=1)
    text = "The fete ejects journalists outside the depository."
    units = restorer.unit_outputs([text])[0]
    proposals = {(s + p.start, s + p.end): p.restored for s, _, u in units for p in u.proposals}
    fete = proposals[(4, 8)]

    rows = [
        {"spun": text, "substitutions": [swap(text, "fete", fete), swap(text, "The", "A")]},
        {"spun": text, "substitutions": [swap(text, "fete", "zeppelin")]},
    ]
    loose = swap_funnel(restorer, rows, threshold=0.0)
    assert loose["gold"] == 3 == sum(loose[b] for b in BUCKETS)
    assert (loose["restored"], loose["no_site"], loose["not_candidate"]) == (1, 1, 1)
    # At threshold 0 every other proposal is an edit of a word nobody spun.
    assert loose["clean_word_edits"] == 2 * (len(proposals) - 1)
    strict = swap_funnel(restorer, rows, threshold=1.01)
    assert (strict["restored"], strict["right_unsure"], strict["clean_word_edits"]) == (0, 1, 0)
    assert loose["alternative_right"] == strict["alternative_right"] == 0

    # The fete's other candidate as its original: a wrong choice, named among the alternatives.
    [(other, _)] = [p.alternatives for s, _, u in units for p in u.proposals if p.start == 4][0]
    rows = [{"spun": text, "substitutions": [swap(text, "fete", other.lower())]}]
    funnel = swap_funnel(restorer, rows, threshold=0.0)
    assert (funnel["wrong_applied"], funnel["alternative_right"]) == (1, 1)
    [band] = swap_funnel(restorer, rows, bands=[0.0])["bands"]
    assert (band["wrong_original"], band["alternative_right"]) == (1, 1)


def test_confidence_bands_count_every_proposal_once(tagger_model_dir):
    from restore import Restorer
    from training.funnel import swap_funnel

    restorer = Restorer.from_pretrained(tagger_model_dir, threads=1)
    text = "The fete ejects journalists outside the depository."
    units = restorer.unit_outputs([text])[0]
    proposals = {(s + p.start, s + p.end): p for s, _, u in units for p in u.proposals}
    fete = proposals[(4, 8)]
    rows = [
        {"spun": text, "substitutions": [swap(text, "fete", fete.restored)]},
        {"spun": text, "substitutions": [swap(text, "fete", "zeppelin")]},
    ]
    # An edge between two proposals' confidences, not on one: the funnel's confidences come
    # from the document's edit rule and may differ from these in float's last digits.
    ranked = sorted(p.confidence for p in proposals.values())
    edge = (ranked[len(ranked) // 2 - 1] + ranked[len(ranked) // 2]) / 2
    funnel = swap_funnel(restorer, rows, bands=[edge, 0.0])
    assert funnel == {**swap_funnel(restorer, rows), "bands": funnel["bands"]}
    low, high = funnel["bands"]
    assert (low["from"], high["from"]) == (0.0, edge)
    sure = fete.confidence >= edge
    assert (high["right"], low["right"]) == (int(sure), int(not sure))
    assert (high["wrong_original"], low["wrong_original"]) == (int(sure), int(not sure))
    others = [p.confidence for span, p in proposals.items() if span != (4, 8)]
    assert high["clean"] == 2 * sum(c >= edge for c in others)
    assert low["clean"] == 2 * sum(c < edge for c in others)


def test_unsure_proposals_come_back_as_suggestions_in_input_offsets(tagger_model_dir):
    from restore import Restorer
    from restore.formats.tagger import PROPOSAL_FLOOR

    # Runs of spaces and a line break: the unit is normalised, the suggestions' offsets are not.
    text = "The  fete\nejects reporters outside   the depository."

    def load(**guard):
        return Restorer.from_pretrained(tagger_model_dir, threads=1, guard=guard)

    made = load(min_edit_confidence=0.0).restore_detailed(text)
    assert len(made.edits) >= 2
    result = load(min_edit_confidence=1.0, min_suggestion_confidence=0.0).restore_detailed(text)
    assert result.text == text and result.edits == ()
    assert result.units[0].reasons == ("low_edit_confidence",)
    assert [(s.start, s.end, s.spun, s.restored) for s in result.suggestions] == [
        (e.start, e.end, e.spun, e.restored) for e in made.edits
    ]
    assert all(text[s.start : s.end] == s.spun for s in result.suggestions)
    confidences = [s.confidence for s in result.suggestions]
    assert min(confidences) >= PROPOSAL_FLOOR
    assert confidences == pytest.approx([e.confidence for e in made.edits])
    assert result.to_dict()["suggestions"][0]["restored"] == result.suggestions[0].restored

    # Halfway between two confidences: no suggestion sits on the floor, where a last-bit
    # difference between two loads of the model could tip it either way.
    ordered = sorted(confidences)
    floor = (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
    picky = load(min_edit_confidence=1.0, min_suggestion_confidence=floor)
    kept = picky.restore_detailed(text).suggestions
    assert kept == tuple(s for s in result.suggestions if s.confidence >= floor)
    # Made edits are not suggested as well.
    assert load(min_edit_confidence=0.0).restore_detailed(text).suggestions == ()


def tagger_section(tmp_path, lm, context, *, encoder, **settings) -> dict:
    """A tiny run's ``tagger:`` YAML section, its count files saved under ``tmp_path``."""
    lm.save(tmp_path / "ngram")
    TABLE.save(tmp_path / "inverse.npz")
    context.save(tmp_path / "context.npz")
    return {
        "ngram_dir": str(tmp_path / "ngram"),
        "inverse_path": str(tmp_path / "inverse.npz"),
        "context_path": str(tmp_path / "context.npz"),
        "encoder": str(encoder),
        "layers": 2,
        "max_candidates": 8,
        "minutes": 0.02,
        "eval_steps": 2,
        "eval_pairs": 4,
        "threads": 1,
        **settings,
    }


def test_the_tagger_stage_trains_from_its_yaml_section_and_never_overwrites(
    tmp_path, encoder_dir, lm, context, capsys
):
    import datasets
    import yaml

    from restore import Restorer
    from training.tagger.train import main

    spun = "The fete ejects journalists outside the depository."
    row = {
        "spun": spun,
        "original": spun.replace("fete", "party"),
        "substitutions": [{"spun_start": 4, "spun_end": 8, "original": "party"}],
    }
    out = tmp_path / "run"
    pairs = datasets.DatasetDict(
        {s: datasets.Dataset.from_list([row] * 8) for s in ("train", "valid")}
    )
    pairs.save_to_disk(str(out / "pairs"))
    (out / "pairs" / "manifest.json").write_text(json.dumps({"config_hash": "abc"}))
    section = tagger_section(tmp_path, lm, context, encoder=encoder_dir, batch_size=4)
    config = tmp_path / "tagger.yaml"
    config.write_text(yaml.safe_dump({"output_dir": str(out), "tagger": section}))

    assert main(["--config", str(config)]) == 0
    model = out / "model"
    assert Restorer.from_pretrained(model, threads=1).restore("The fete ended.")
    manifest = json.loads((out / "model-train" / "manifest.json").read_text())
    assert manifest["upstream"]["pairs"]["config_hash"] == "abc"
    assert "tagger:" in (model / "training_config.yaml").read_text()
    assert json.loads((model / "tagger_config.json").read_text())["layers"] == 2
    weights = (model / "model.safetensors").read_bytes()
    capsys.readouterr()
    assert main(["--config", str(config)]) == 2  # the model directory exists
    assert "--overwrite" in capsys.readouterr().err
    assert (model / "model.safetensors").read_bytes() == weights
    assert main(["--config", str(config), "--export-only", "--overwrite"]) == 0
    last = ["--export-only", "--overwrite", "--set", "tagger.weights=last"]
    assert main(["--config", str(config), *last, "--set", "tagger.trained_candidates=1"]) == 0
    # A model that read more candidates than its warm start trained on says so.
    assert json.loads((model / "restore.json").read_text())["tagger"]["trained_candidates"] == 1
    saved = torch.load(out / "model-train" / "checkpoint.pt", weights_only=True)["model"]
    exported = load_file(model / "model.safetensors")
    assert set(exported) == set(saved)
    # The model directory holds half-precision weights.
    assert all(torch.equal(exported[n], saved[n].to(exported[n].dtype)) for n in saved)
    (tmp_path / "context.npz").unlink()
    assert main(["--config", str(config), "--overwrite"]) == 2
    assert "training.tagger.context" in capsys.readouterr().err


def test_refit_sites_reads_the_evidence_in_the_restored_context(lm):
    from restore.tagger.input import refit_sites

    unit = unit_input("The fete ejects journalists.", lm)
    fete, ejects = unit.sites
    assert (fete.key, ejects.key) == ("fete", "ejects")
    (refit,) = refit_sites(unit, {1: "greets"}, [0], TABLE, lm=lm, context=None, max_candidates=8)
    # "the party greets journalists" is in the counts: "party" gains once "ejects" is put back.
    assert refit.features[0, 0] > fete.features[0, 0]
    assert (refit.first, refit.last, refit.candidates) == (fete.first, fete.last, fete.candidates)
    (same,) = refit_sites(unit, {}, [0], TABLE, lm=lm, context=None, max_candidates=8)
    assert np.array_equal(same.features, fete.features)


def test_refinement_rescores_only_the_unsure_sites(engine):
    from restore.tagger.input import refit_sites

    unit = encoded(engine, "The fete ejects journalists.")
    fete, ejects = unit.sites
    # The network's say, set by hand: "ejects" is surely spun and surely "greets"; "fete" is
    # unsure, its candidates even.
    spins = [0.0] * len(unit.tokens)
    spins[fete.first], spins[ejects.first] = 0.2, 1.0
    sure = np.log(np.array([0.98, 0.01, 0.01]))
    even = np.log(np.full(len(fete.candidates), 1 / len(fete.candidates)))
    engine.refine_above = 0.5
    try:
        sites, log_probs = engine.refine(unit, spins, [even, sure])
    finally:
        engine.refine_above = None
    assert sites[1] is ejects and np.array_equal(log_probs[1], sure)  # the sure site is kept
    (expected,) = refit_sites(
        unit, {1: "greets"}, [0], TABLE, lm=engine.lm, context=engine.context, max_candidates=8
    )
    assert np.array_equal(sites[0].features, expected.features)
    old, new = engine._evidence([fete.features, expected.features])
    shifted = even - old + new
    assert np.allclose(log_probs[0], shifted - np.logaddexp.reduce(shifted))
    assert np.isclose(np.exp(log_probs[0]).sum(), 1.0)
    # "the party greets journalists" is in the counts: "party" gains once "ejects" is back.
    assert sites[0].features[0, 0] > fete.features[0, 0]


def test_choice_signals_count_each_reachable_site_once(tagger_model_dir):
    from restore import Restorer
    from training.tagger.choice_signals import SIGNALS, choice_signals

    restorer = Restorer.from_pretrained(tagger_model_dir, threads=1)
    text = "The fete ejects journalists outside the depository."

    subs = [swap(text, "fete", "party"), swap(text, "ejects", "zap")]
    rows = [{"spun": text, "substitutions": subs}]
    shares = choice_signals(restorer, rows)
    assert shares["reachable"] == 1  # "zap" is not a candidate of "ejects"
    assert set(shares) == {"reachable", *SIGNALS}
    assert all(shares[s] in (0.0, 1.0) for s in SIGNALS)
    assert restorer.runtime.engine.refine_above is None  # put back as it was


def _script(name, monkeypatch):
    """``scripts/<name>.py`` imported as module ``name`` (registered by that name, so that a
    process pool can pickle its functions)."""
    import importlib.util
    import sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).parents[1] / "scripts" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def test_masked_signals_mask_only_the_suspect_sites_and_fit_heads(tagger_model_dir, monkeypatch):
    from restore import Restorer

    masked_signals = _script("masked_signals", monkeypatch)
    restorer = Restorer.from_pretrained(tagger_model_dir, threads=1)
    engine = restorer.runtime.engine
    units = [engine.encode_text("The fete ejects journalists out of doors.")]
    ids = collate(units, engine.pieces).input_ids
    mask_id = engine.pieces.tokenizer.token_to_id("[MASK]")
    spins = [[0.0] * len(units[0].tokens)]
    fete, ejects, outside = units[0].sites
    spins[0][ejects.first] = spins[0][outside.first] = 0.9
    masked, chosen = masked_signals.masked_ids(units, ids, spins, 0.5, mask_id)
    assert chosen == [1, 2]
    changed = (masked != ids).nonzero()[:, 1].tolist()
    firsts = units[0].first_pieces
    # "ejects" and every piece of "out of doors", nothing else (not "fete", not the full stop).
    want = list(range(firsts[ejects.first], firsts[ejects.last + 1]))
    want += list(range(firsts[outside.first], firsts[outside.last + 1]))
    assert changed == want
    assert (masked[0, changed] == mask_id).all()

    text = "The fete ejects journalists outside the depository."
    subs = [swap(text, "fete", "party"), swap(text, "ejects", "greets")]
    rows = [{"spun": text, "substitutions": subs}] * 20
    views = masked_signals.site_views(restorer, rows[:1], min_spin=0.0)
    batch = collate([engine.encode_text(text)], engine.pieces)
    with torch.inference_mode():
        hidden = engine.model.encoder(batch.input_ids, batch.attention_mask)[0]
    fete_at = engine.encode_text(text).first_pieces[1]
    assert views["want"].tolist() == [0, 0]  # "party" and "greets" rank first in TABLE
    assert torch.allclose(torch.from_numpy(views["unmasked"][0]), hidden[fete_at], atol=1e-5)
    assert not np.allclose(views["masked"][0], views["unmasked"][0])
    found = masked_signals.masked_signals(
        restorer, rows, {0.3: rows[:1]}, min_spin=0.0, epochs=1, seed=0
    )
    assert found[0.3]["sites"] == 2
    assert set(found[0.3]) == {"sites", "network", *masked_signals.HEADS}
    assert all(0.0 <= v <= 1.0 for k, v in found[0.3].items() if k != "sites")


def test_gpu_tagger_spins_news_in_memory_and_trains_warm_with_workers(
    tmp_path, engine, lm, context, monkeypatch
):
    import yaml

    from restore import Restorer

    gpu_tagger = _script("gpu_tagger", monkeypatch)
    news = tmp_path / "news.jsonl"
    text = "The party greets journalists outside the bank. The fete ended early on Friday."
    docs = [{"id": f"d{i}", "text": text, "split": "train"} for i in range(6)]
    docs += [{"id": "v0", "text": text, "split": "valid"}]
    news.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    start = tmp_path / "start"  # a saved tagger: the warm start and the encoder's shape
    save_tagger(engine.model, start, dtype=torch.float32)
    engine.pieces.tokenizer.save(str(start / "tokenizer.json"))
    section = tagger_section(
        tmp_path, lm, context, encoder=start, init=str(start), batch_size=2, eval_pairs=2, workers=2
    )
    synthesis = {"spins_per_unit": 2, "clean_share": 0.0, "rates": [0.5]}
    config = tmp_path / "gpu.yaml"
    out = tmp_path / "run"
    config.write_text(
        yaml.safe_dump({"output_dir": str(out), "synthesis": synthesis, "tagger": section})
    )
    argv = ["--config", str(config), "--news", str(news), "--spin-workers", "2"]
    assert gpu_tagger.main(argv) == 0
    manifest = json.loads((out / "pairs" / "manifest.json").read_text())
    assert manifest["train_pairs"] == 12 and manifest["valid_pairs"] == 2
    assert (out / "model-train" / "log.csv").read_text().startswith("step,")
    assert Restorer.from_pretrained(out / "model", threads=1).restore("The fete ended.")
