"""The tagger's plain-torch BERT encoder: transformers' BertModel's names, weights and outputs,
and a default model that loads without importing transformers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from restore.tagger.encoder import BertEncoder, EncoderConfig, EncoderConfigError
from restore.tagger.model import SpinTagger, load_tagger, save_tagger

transformers = pytest.importorskip("transformers")

SHAPE = dict(
    vocab_size=120,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=40,
)


def _bert(seed: int = 3):
    config = transformers.BertConfig(**SHAPE)
    torch.manual_seed(seed)
    return config, transformers.BertModel(config, add_pooling_layer=False)


def _inputs():
    ids = torch.randint(1, SHAPE["vocab_size"], (3, 11), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    mask[2, 2:] = 0
    return ids, mask


def test_same_parameter_names_and_the_same_initial_draws_as_bert_model():
    config, bert = _bert()
    after_bert = torch.rand(4)
    torch.manual_seed(3)
    ours = BertEncoder(EncoderConfig.of(config))
    after_ours = torch.rand(4)
    theirs = bert.state_dict()
    assert list(ours.state_dict()) == list(theirs)
    assert all(torch.equal(v, theirs[k]) for k, v in ours.state_dict().items())
    # The generator is left where BertModel left it: heads built next draw the same weights.
    assert torch.equal(after_ours, after_bert)


@pytest.mark.parametrize("padded", [True, False])
def test_outputs_equal_bert_model_in_eval_mode(padded):
    config, bert = _bert()
    ours = BertEncoder(EncoderConfig.of(config))
    ours.load_state_dict(bert.state_dict())
    ids, mask = _inputs()
    if not padded:
        mask = torch.ones_like(mask)
    bert.eval()
    ours.eval()
    with torch.inference_mode():
        expected = bert(input_ids=ids, attention_mask=mask).last_hidden_state
        assert torch.equal(ours(ids, mask), expected)


def test_dropout_in_training_mode_draws_as_bert_model_does():
    config, bert = _bert()
    ours = BertEncoder(EncoderConfig.of(config))
    ours.load_state_dict(bert.state_dict())
    ids, mask = _inputs()
    bert.train()
    ours.train()
    torch.manual_seed(9)
    expected = bert(input_ids=ids, attention_mask=mask).last_hidden_state
    torch.manual_seed(9)
    assert torch.equal(ours(ids, mask), expected)


def test_config_from_json_keeps_every_key_and_refuses_other_variants():
    data = {**SHAPE, "model_type": "bert", "hidden_act": "gelu", "transformers_version": "5.0"}
    config = EncoderConfig.from_dict(data)
    assert config.hidden_size == 32 and config.to_dict()["transformers_version"] == "5.0"
    assert EncoderConfig.from_dict(config.to_dict()) == config
    for key, value in [("hidden_act", "relu"), ("position_embedding_type", "relative_key")]:
        with pytest.raises(EncoderConfigError, match=key):
            EncoderConfig.from_dict({**data, key: value})
    with pytest.raises(EncoderConfigError, match="intermediate_size"):
        EncoderConfig.from_dict({k: v for k, v in data.items() if k != "intermediate_size"})


def test_a_tagger_saved_from_a_loaded_one_writes_the_same_config(tmp_path):
    config, _ = _bert()
    torch.manual_seed(0)
    save_tagger(SpinTagger(config), tmp_path / "a", dtype=torch.float32)
    loaded = load_tagger(tmp_path / "a")
    save_tagger(loaded, tmp_path / "b", dtype=torch.float32)
    first = json.loads((tmp_path / "a" / "config.json").read_text())
    assert json.loads((tmp_path / "b" / "config.json").read_text()) == first
    again = load_tagger(tmp_path / "b")
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in loaded.state_dict().items())


def test_the_default_model_loads_and_restores_without_transformers():
    code = (
        "import sys\n"
        "from restore import Restorer\n"
        "r = Restorer.from_pretrained('default', threads=1)\n"
        "print(r.restore('Police dammed deuce men on Friday.'))\n"
        "print('transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["Police arrested two men on Friday.", "False"]


def test_candidate_vectors_are_the_mean_of_each_candidates_pieces():
    config, _ = _bert()
    torch.manual_seed(0)
    model = SpinTagger(config).eval()
    pieces = torch.randint(0, SHAPE["vocab_size"], (50, 6), generator=torch.Generator())
    mask = (torch.arange(6)[None] < torch.randint(1, 7, (50, 1))).float()
    with torch.inference_mode():
        mean = (model.embeddings(pieces) * mask.unsqueeze(-1)).sum(-2)
        mean = mean / mask.sum(-1, keepdim=True).clamp(min=1)
        torch.testing.assert_close(model.candidate_vectors(pieces, mask), mean)
        # Padding pieces count for nothing.
        padded = pieces.masked_fill(mask == 0, 0)
        assert torch.equal(
            model.candidate_vectors(padded, mask), model.candidate_vectors(pieces, mask)
        )


def test_each_site_is_scored_against_its_own_candidates_only():
    from restore.tagger.model import _SITE_CHUNK, _site_dots

    torch.manual_seed(0)
    sites = 2 * _SITE_CHUNK + 3  # whole chunks and a part
    queries, vectors = torch.randn(sites, 8), torch.randn(30, 8)
    index = torch.randint(0, 30, (sites, 5))
    full = torch.gather(queries @ vectors.T, 1, index)
    torch.testing.assert_close(_site_dots(queries, vectors, index), full)
    assert _site_dots(queries[:0], vectors, index[:0]).shape == (0, 5)
