"""Tests of the thesaurus: the shipped file through its loader, and its builder
(``training.lexicon_build`` and the ``scripts/build_lexicon.py`` command over it) on a tiny
hand-made WordNet and Aiksaurus."""

from __future__ import annotations

import gzip
import importlib.util
import json
import struct
from pathlib import Path

import pytest

from training import lexicon_build
from training.lexicon import Candidate, Lexicon, LexiconError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load()


def texts(lexicon: Lexicon, lemma: str, pos: str) -> list[str]:
    return [c.text for c in lexicon.candidates(lemma, pos)]


# --- the shipped file ------------------------------------------------------------------------


def test_default_instance_is_cached(lexicon):
    assert Lexicon.load() is lexicon


def test_party_offers_celebration_and_wordnet_senses_first(lexicon):
    candidates = lexicon.candidates("party", "n")
    assert "celebration" in [c.text for c in candidates]
    assert candidates[0] == Candidate("political party", "syn", "n08256968", "wordnet")
    sources = [c.source for c in candidates]
    assert sources == sorted(sources, key=["wordnet", "moby"].index)
    assert all(c.sense.startswith("m") == (c.source == "moby") for c in candidates)


def test_known_relations(lexicon):
    by_text = {(c.text, c.relation) for c in lexicon.candidates("bank", "n")}
    assert ("depository", "hyper") in by_text
    assert ("depository financial institution", "syn") in by_text
    assert {"picture", "icon"} <= set(texts(lexicon, "image", "n"))
    assert {"welcome", "hail"} <= set(texts(lexicon, "greet", "v"))
    assert ("extrinsic", "sim") in {
        (c.text, c.relation) for c in lexicon.candidates("outside", "a")
    }


def test_candidates_are_plain_and_never_the_headword(lexicon):
    for lemma, pos in [("party", "n"), ("bank", "n"), ("run", "v"), ("good", "a"), ("well", "r")]:
        candidates = lexicon.candidates(lemma, pos)
        assert candidates
        assert all(c.text != lemma and c.text == c.text.lower() for c in candidates)
        assert all(not any(ch.isdigit() for ch in c.text) for c in candidates)
        assert {c.relation for c in candidates} <= {"syn", "sim", "hyper", "hypo", "rel"}


def test_multiword_candidates_and_headwords(lexicon):
    assert "out of doors" in texts(lexicon, "outside", "r")
    assert "far out" in texts(lexicon, "outside", "a")
    assert lexicon.has("press conference", "n")
    assert "news conference" in texts(lexicon, "press conference", "n")
    heads = lexicon.phrase_heads()
    assert "press conference" in heads["press"]
    assert heads.match(["a", "press", "conference", "today"], 1) == "press conference"
    assert heads.match(["a", "press", "release"], 0) is None
    assert heads.max_words >= 4


def test_poses_has_and_unknown_words(lexicon):
    assert lexicon.poses("outside") == ("n", "a", "r")
    assert lexicon.has("greet", "v") and not lexicon.has("greet", "a")
    assert lexicon.candidates("qwzxv", "n") == ()
    assert lexicon.poses("qwzxv") == ()
    # Stopwords have no entries, however WordNet reads them ("will" the testament, "a" vitamin).
    assert not lexicon.poses("will") and not lexicon.poses("be") and not lexicon.has("a", "n")
    assert lexicon.has("say", "v")
    with pytest.raises(ValueError, match="pos"):
        lexicon.candidates("party", "s")


def test_lookups_ignore_case(lexicon):
    assert lexicon.candidates("Party", "n") == lexicon.candidates("party", "n")
    assert lexicon.zipf("The") == lexicon.zipf("the")


def test_zipf(lexicon):
    assert lexicon.zipf("the") > lexicon.zipf("celebration") > lexicon.zipf("tortfeasor") > 0
    assert lexicon.zipf("went") > 0  # inflected common words are stored too
    assert lexicon.zipf("qwzxv") == 0.0


def test_function_alternatives(lexicon):
    assert "through" in lexicon.function_alternatives("by")
    assert lexicon.function_alternatives("because") == ("since", "as")
    assert "in spite of" in lexicon.function_alternatives("despite")
    assert lexicon.function_alternatives("according to")
    assert lexicon.function_alternatives("celebration") == ()


def test_inverse(lexicon):
    assert "party" in lexicon.inverse("celebration", "n")
    assert "bank" in lexicon.inverse("depository", "n")
    heads = lexicon.inverse("celebration", "n")
    assert list(heads) == sorted(heads) and "celebration" not in heads
    assert lexicon.inverse("qwzxv", "n") == ()


def test_sources_name_every_licence(lexicon):
    sources = lexicon.sources
    assert set(sources) == {"wordnet", "moby", "wordfreq", "function_words"}
    assert all(record["licence"] for record in sources.values())
    sources["wordnet"]["licence"] = "changed"
    assert lexicon.sources["wordnet"]["licence"] != "changed"


# --- errors ----------------------------------------------------------------------------------


def write_document(path: Path, document: object) -> Path:
    path.write_bytes(gzip.compress(json.dumps(document).encode()))
    return path


def test_missing_file(tmp_path):
    with pytest.raises(LexiconError, match="cannot read"):
        Lexicon.load(tmp_path / "absent.json.gz")


@pytest.mark.parametrize(
    "raw", [b"not gzip at all", gzip.compress(b"{not json"), gzip.compress(b"\xff\xfe")]
)
def test_corrupt_file(tmp_path, raw):
    path = tmp_path / "bad.json.gz"
    path.write_bytes(raw)
    with pytest.raises(LexiconError, match="not gzip'd JSON"):
        Lexicon.load(path)


def test_truncated_file(tmp_path):
    raw = (ROOT / "training" / "data" / "lexicon.json.gz").read_bytes()
    path = tmp_path / "cut.json.gz"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(LexiconError):
        Lexicon.load(path)


def test_unknown_format_and_missing_fields(tmp_path):
    with pytest.raises(LexiconError, match="format 99"):
        Lexicon.load(write_document(tmp_path / "future.json.gz", {"format": 99}))
    with pytest.raises(LexiconError, match="JSON object"):
        Lexicon.load(write_document(tmp_path / "list.json.gz", [1, 2]))
    with pytest.raises(LexiconError, match="'entries'"):
        document = {"format": 1, "sources": {}, "words": [], "zipf": [], "synsets": {}, "moby": {}}
        Lexicon.load(write_document(tmp_path / "partial.json.gz", document))


def test_lexicon_error_is_a_value_error():
    assert issubclass(LexiconError, ValueError)


# --- the builder on tiny inputs -------------------------------------------------------------


@pytest.fixture(scope="module")
def build_deps() -> None:
    """A build reads wordfreq and lemminflect (the ``lexicon`` and ``train`` extras)."""
    pytest.importorskip("wordfreq")
    pytest.importorskip("lemminflect")


@pytest.fixture(scope="module")
def build_script(build_deps):
    """``scripts/build_lexicon.py`` as a module, for its ``main``."""
    spec = importlib.util.spec_from_file_location(
        "build_lexicon", ROOT / "scripts/build_lexicon.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HEADER = "  1 This is the licence header, which starts with two spaces.  \n"
DATA_NOUN = [
    "00000100 14 n 02 party 0 political_party 0 002 @ 00000200 n 0000 ~ 00000300 n 0000 | a",
    "00000200 14 n 01 organization 0 001 ~ 00000100 n 0000 | b",
    "00000300 14 n 02 third_party 0 Tea_Party 0 002 @ 00000100 n 0000 @i 00000400 n 0000 | c",
    "00000400 14 n 01 group2 0 000 | d",
]
INDEX_NOUN = [
    "organization n 1 1 ~ 1 0 00000200",
    "party n 1 2 @ ~ 1 0 00000100",
    "political_party n 1 2 @ ~ 1 0 00000100",
    "third_party n 1 1 @ 1 0 00000300",
]


def aiksaurus_words(records: list[tuple[str, list[int]]]) -> bytes:
    out = b""
    for word, meanings in records:
        out += word.replace(" ", ":").encode() + b"\0"
        out += struct.pack(f">{len(meanings)}H", *meanings) + b"\xff\xff"
    return out


@pytest.fixture
def tiny_sources(tmp_path) -> tuple[Path, Path]:
    wn, aik = tmp_path / "wordnet", tmp_path / "aiksaurus"
    wn.mkdir()
    aik.mkdir()
    for name in ("noun", "verb", "adj", "adv"):
        (wn / f"data.{name}").write_text(HEADER + ("\n".join(DATA_NOUN) if name == "noun" else ""))
        (wn / f"index.{name}").write_text(
            HEADER + ("\n".join(INDEX_NOUN) if name == "noun" else "")
        )
    words = [("Bacchus", [0]), ("celebration", [0]), ("gala", [0]), ("party", [0])]
    (aik / "words.dat").write_bytes(aiksaurus_words(words))
    (aik / "meanings.dat").write_bytes(struct.pack(">6H", 3, 1, 0, 1, 2, 3) + b"\xff\xff")
    return wn, aik


def test_aiksaurus_parsers():
    raw = aiksaurus_words([("a la mode", [1]), ("abate", [0, 258])])
    assert lexicon_build.parse_aiksaurus_words(raw) == [("a la mode", (1,)), ("abate", (0, 258))]
    raw = struct.pack(">5H", 9, 8, 8, 9, 0xFFFF) + struct.pack(">4H", 1, 1, 1, 0xFFFF)
    assert lexicon_build.parse_aiksaurus_meanings(raw) == [(8, 9), (1,)]


def test_wordnet_line_parser_folds_satellites():
    line = "00019731 00 s 02 handy 0 ready_to_hand(p) 0 001 & 00019131 a 0000 | easy to reach"
    offset, synset = lexicon_build.parse_wn_data_line(line)
    assert offset == 19731 and synset.lemmas == ("handy", "ready_to_hand(p)")
    assert lexicon_build.clean_wn_lemma(synset.lemmas[1]) == "ready to hand"


def test_build_tiny_lexicon(build_deps, tiny_sources, tmp_path):
    wn, aik = tiny_sources
    out, again = tmp_path / "lexicon.json.gz", tmp_path / "again.json.gz"
    lexicon_build.save_gzip_json(lexicon_build.build_lexicon(wn, aik), out)
    lexicon_build.save_gzip_json(lexicon_build.build_lexicon(wn, aik), again)
    assert again.read_bytes() == out.read_bytes()  # deterministic

    tiny = Lexicon.load(out)
    assert [(c.text, c.relation, c.sense) for c in tiny.candidates("party", "n")] == [
        ("political party", "syn", "n00000100"),
        ("organization", "hyper", "n00000100"),
        ("third party", "hypo", "n00000100"),
        ("celebration", "rel", "m0"),
        ("gala", "rel", "m0"),
    ]
    # Instance hypernyms and capitalised lemmas are left out.
    assert texts(tiny, "third party", "n") == ["party", "political party"]
    assert tiny.inverse("celebration", "n") == ("gala", "party")
    assert tiny.zipf("party") > 0 and tiny.function_alternatives("by")


def test_script_builds_and_never_overwrites(build_script, tiny_sources, tmp_path):
    wn, aik = tiny_sources
    out = tmp_path / "lexicon.json.gz"
    argv = ["--out", str(out), "--wordnet-dir", str(wn), "--aiksaurus-dir", str(aik)]
    assert build_script.main(argv) == 0
    first = out.read_bytes()
    assert build_script.main(argv) == 1  # refuses to overwrite
    assert build_script.main([*argv, "--overwrite"]) == 0
    assert out.read_bytes() == first  # deterministic
    assert Lexicon.load(out).candidates("party", "n")
