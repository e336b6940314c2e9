import json
import random
import sys

import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from training.tokenizer import (
    EOS_ID,
    INFO_FILE,
    PAD_ID,
    SPM_FILE,
    TOKENIZER_FILE,
    UNK_ID,
    TokenizerConfig,
    TokenizerError,
    _cut_line,
    check_tokenizer,
    load_tokenizer,
    train_tokenizer,
)

EXTRA = ("<sep>", "[DEL]", "a.b")
WORDS = (
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "her",
    "she",
    "there",
    "one",
    "all",
    "we",
    "their",
    "been",
    "has",
    "would",
    "when",
    "who",
    "will",
    "more",
    "no",
    "if",
    "out",
    "so",
    "said",
    "what",
    "up",
    "its",
    "about",
    "than",
    "into",
    "them",
    "can",
    "only",
    "other",
    "new",
    "some",
    "could",
    "time",
    "these",
    "two",
    "may",
    "then",
    "first",
    "any",
    "my",
    "now",
    "such",
    "like",
    "our",
    "over",
    "man",
    "even",
    "most",
    "made",
    "after",
    "also",
    "did",
    "many",
    "before",
    "must",
    "through",
    "back",
    "years",
    "where",
    "much",
    "your",
    "way",
    "well",
    "down",
    "should",
    "because",
    "each",
    "just",
    "those",
    "people",
    "how",
    "too",
    "little",
    "state",
    "good",
    "very",
    "make",
    "world",
    "still",
    "own",
    "see",
    "men",
    "work",
    "long",
    "market",
    "report",
    "official",
    "percent",
    "million",
    "president",
    "city",
    "country",
    "police",
    "week",
    "government",
)
NAMES = ("José", "Zoë", "Renée", "Müller", "Ångström", "Björk", "François", "Chloé")

EDGE_CASES = [
    "",
    " ",
    "  ",
    " leading",
    "trailing ",
    "  two  spaces  inside  ",
    "tab\there\t",
    "\nnew\nlines\n\n",
    "\r\nwindows\r\n",
    "“Curly” ‘quotes’ — em dash – en dash … ellipsis",
    "Zoë Ångström, François, Renée Müller",
    "emoji 😀👍🏽 and flags 🇬🇧",
    "中文 日本語 한국어",
    "control \x00 \x07 \x1b \x7f \x85 \u2028 chars",
    "combining e\u0301 a\u0308\u0301 and zero\u200bwidth",
    "literal <pad> and </s> and <unk> tokens",
    "</s>",
    "<pad><pad>",
    "byte look-alikes <0x41> <0xE2> <0x0A>",
    "<<<>>> <",
    "digits 1234567890 3.14 1,000,000",
    "<sep> [DEL] a.b axb a+b",
    "\ufeffBOM and \ufffd replacement",
]


def make_lines(n, seed=0):
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = []
        for _ in range(rng.randint(5, 25)):
            r = rng.random()
            if r < 0.05:
                words.append(rng.choice(NAMES))
            elif r < 0.1:
                words.append(str(rng.randint(0, 99999)))
            else:
                words.append(rng.choice(WORDS))
        line = " ".join(words).capitalize() + rng.choice([".", ".", "!", "?", "…"])
        if rng.random() < 0.2:
            line = f"“{line}” — he said"
        lines.append(line)
    return lines


LINES = make_lines(400)


@pytest.fixture(scope="module", params=["unigram", "bpe"])
def trained(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    config = TokenizerConfig(vocab_size=400, model_type=request.param, extra_tokens=EXTRA)
    train_tokenizer(LINES, out, config, seed=0)
    tokenizer = load_tokenizer(out)
    processor = spm.SentencePieceProcessor(model_file=str(out / SPM_FILE))
    return out, tokenizer, processor


def round_trip(tokenizer, text):
    return tokenizer.decode(tokenizer(text).input_ids, skip_special_tokens=True)


def test_special_ids_and_eos(trained):
    _, tok, _ = trained
    assert (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (PAD_ID, EOS_ID, UNK_ID)
    assert tok.convert_ids_to_tokens([0, 1, 2]) == ["<pad>", "</s>", "<unk>"]
    assert tok.bos_token_id is None
    ids = tok("x").input_ids
    assert ids[-1] == EOS_ID
    assert EOS_ID not in ids[:-1]
    assert tok.model_max_length == 512
    batch = tok(["a", "a much longer line"], padding=True).input_ids
    assert batch[0][-1] == PAD_ID and batch[1][-1] == EOS_ID


@pytest.mark.parametrize("text", EDGE_CASES + LINES[:20])
def test_round_trip_cases(trained, text):
    _, tok, processor = trained
    ids = tok(text).input_ids
    assert UNK_ID not in ids
    assert ids == processor.encode(text) + [EOS_ID]
    assert round_trip(tok, text) == text


@settings(max_examples=1000, deadline=None)
@given(text=st.text().filter(lambda s: "▁" not in s))
def test_round_trip_any_text(trained, text):
    _, tok, processor = trained
    ids = tok(text).input_ids
    assert ids == processor.encode(text) + [EOS_ID]
    assert tok.decode(ids, skip_special_tokens=True) == text


NASTY = [" ", "  ", "\t", "\n", "a", "x", "b", "the", "<", ">", "/", "0", "4", "1", "é", "😀"]
NASTY += ["<pad>", "</s>", "<unk>", "<0x41>", "<0xE2>", "\u0301", "“", "—", "\x00", *EXTRA]


@settings(max_examples=1000, deadline=None)
@given(parts=st.lists(st.sampled_from(NASTY), max_size=30))
def test_round_trip_nasty_fragments(trained, parts):
    _, tok, processor = trained
    text = "".join(parts)
    ids = tok(text).input_ids
    assert ids == processor.encode(text) + [EOS_ID]
    assert tok.decode(ids, skip_special_tokens=True) == text


def test_space_marker_decodes_as_space(trained):
    # Documented exception: "▁" is SentencePiece's space marker, in sentencepiece too.
    _, tok, processor = trained
    assert round_trip(tok, "a▁b") == "a b"
    assert processor.decode(processor.encode("a▁b")) == "a b"


def test_literal_special_strings_are_text(trained):
    _, tok, _ = trained
    ids = tok("<pad></s><unk>").input_ids
    assert ids.count(EOS_ID) == 1 and ids[-1] == EOS_ID
    assert PAD_ID not in ids and UNK_ID not in ids
    assert "<0x41>" not in tok.convert_ids_to_tokens(tok("<0x41>").input_ids)


def test_extra_tokens_stay_single_tokens(trained):
    out, tok, _ = trained
    for token in EXTRA:
        token_id = tok.convert_tokens_to_ids(token)
        assert token_id not in (PAD_ID, EOS_ID, UNK_ID)
        for text in (token, f"x{token}y", f"the {token} said", f"{token}{token}"):
            pieces = tok.convert_ids_to_tokens(tok(text).input_ids)
            assert token in pieces
            assert round_trip(tok, text) == text
    assert "a.b" not in tok.convert_ids_to_tokens(tok("axb").input_ids)
    info = json.loads((out / INFO_FILE).read_text(encoding="utf-8"))
    assert info["user_defined_symbols"] == ["<", *EXTRA]


def test_files_and_info(trained):
    out, _, _ = trained
    for name in (TOKENIZER_FILE, SPM_FILE, INFO_FILE, "tokenizer_config.json"):
        assert (out / name).is_file()
    info = json.loads((out / INFO_FILE).read_text(encoding="utf-8"))
    assert info["vocab_size"] == 400
    assert info["seed"] == 0
    assert info["training_lines"] == {"seen": len(LINES), "used": len(LINES)}
    assert info["config"]["extra_tokens"] == list(EXTRA)
    assert info["versions"]["sentencepiece"] == spm.__version__
    tok_config = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert tok_config["split_special_tokens"] is True
    assert tok_config["clean_up_tokenization_spaces"] is False


def test_autotokenizer_loads_without_sentencepiece(trained, monkeypatch):
    out, _, _ = trained
    monkeypatch.setitem(sys.modules, "sentencepiece", None)
    monkeypatch.setitem(sys.modules, "google.protobuf", None)
    tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert round_trip(tok, " Zoë  “x” </s>") == " Zoë  “x” </s>"


def test_training_is_deterministic(tmp_path):
    config = TokenizerConfig(vocab_size=400)
    texts = [line.replace(" he ", "\nhe\n") for line in LINES]  # newlines inside texts too
    first = train_tokenizer(texts, tmp_path / "a", config, seed=3)
    second = train_tokenizer(iter(texts), tmp_path / "b", config, seed=3)
    for name in (SPM_FILE, TOKENIZER_FILE, INFO_FILE):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_max_sentences_samples_with_seed(tmp_path):
    config = TokenizerConfig(vocab_size=400, max_sentences=250)
    a = train_tokenizer(LINES, tmp_path / "a", config, seed=0)
    b = train_tokenizer(LINES, tmp_path / "b", config, seed=1)
    info = json.loads((a / INFO_FILE).read_text(encoding="utf-8"))
    assert info["training_lines"] == {"seen": len(LINES), "used": 250}
    assert (a / SPM_FILE).read_bytes() != (b / SPM_FILE).read_bytes()


def test_refuses_to_overwrite(tmp_path, trained):
    out, _, _ = trained
    with pytest.raises(FileExistsError):
        train_tokenizer(LINES, out, TokenizerConfig(vocab_size=400))


def test_no_text_is_an_error(tmp_path):
    with pytest.raises(TokenizerError, match="no non-empty"):
        train_tokenizer(["", "\n", " "], tmp_path, TokenizerConfig(vocab_size=400))


def test_vocab_too_large_for_text_is_a_tokenizer_error(tmp_path):
    with pytest.raises(TokenizerError, match="sentencepiece training failed"):
        train_tokenizer(LINES[:5], tmp_path, TokenizerConfig(vocab_size=5000))


def test_load_errors(tmp_path, trained):
    with pytest.raises(TokenizerError, match="no tokenizer.json"):
        load_tokenizer(tmp_path / "missing")
    with pytest.raises(TokenizerError, match="no tokenizer.json"):
        load_tokenizer(tmp_path)

    out, _, _ = trained
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in (TOKENIZER_FILE, "tokenizer_config.json"):
        (broken / name).write_bytes((out / name).read_bytes())
    data = json.loads((broken / TOKENIZER_FILE).read_text(encoding="utf-8"))
    data["decoder"]["decoders"].pop()  # drop the Strip that removes the dummy prefix
    (broken / TOKENIZER_FILE).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TokenizerError, match="round trip failed"):
        load_tokenizer(broken)

    (broken / TOKENIZER_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(TokenizerError, match="cannot load"):
        load_tokenizer(broken)

    (broken / TOKENIZER_FILE).write_bytes((out / TOKENIZER_FILE).read_bytes())
    (broken / INFO_FILE).write_text(json.dumps({"format_version": 99}), encoding="utf-8")
    with pytest.raises(TokenizerError, match="format_version"):
        load_tokenizer(broken)


def test_check_catches_t5_tokenizer_ignoring_its_vocab_file(trained):
    # transformers 5.x: T5Tokenizer(vocab_file=...) ignores the file and maps words to <unk>.
    from transformers import T5Tokenizer

    out, _, _ = trained
    with pytest.raises(TokenizerError, match="<unk>"):
        check_tokenizer(T5Tokenizer(vocab_file=str(out / SPM_FILE)))


@pytest.mark.parametrize(
    "changes",
    [
        {"model_type": "wordpiece"},
        {"vocab_size": 100},
        {"character_coverage": 0.0},
        {"max_sentences": 0},
        {"num_threads": 0},
        {"extra_tokens": ("a b",)},
        {"extra_tokens": ("",)},
        {"extra_tokens": ("</s>",)},
        {"extra_tokens": ("<",)},
        {"extra_tokens": ("<0x41>",)},
        {"extra_tokens": ("<x>", "<x>")},
    ],
)
def test_config_validation(changes):
    with pytest.raises(ValueError, match=r"tokenizer\."):
        TokenizerConfig(**changes).validate()


@settings(max_examples=200, deadline=None)
@given(
    line=st.lists(st.sampled_from(["a", "é", "😀", " ", "bc"]), max_size=60).map("".join),
    limit=st.integers(min_value=4, max_value=20),
)
def test_cut_line_keeps_text_and_limit(line, limit):
    parts = list(_cut_line(line, limit))
    assert all(len(p.encode("utf-8")) <= limit for p in parts)
    if all(len(w.encode("utf-8")) <= limit for w in line.split(" ")):
        assert " ".join(parts) == line
    else:
        assert "".join(parts).replace(" ", "") == line.replace(" ", "")
