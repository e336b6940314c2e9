"""Build the thesaurus file the spinner and the baselines read (``training/data/lexicon.json.gz``).

Sources, all read from local files, nothing is downloaded:

* **WordNet 3.0**, parsed straight from the WNDB text files in ``/usr/share/wordnet`` (Debian
  ``wordnet-base``). For every (lemma, part of speech) and every sense, in WordNet's sense order
  (most frequent first), the related words are kept with their relation: ``syn`` (other lemmas of
  the synset), ``sim`` (adjective similar-to ``&``), ``hyper`` (``@``) and ``hypo`` (``~``).
  Instance relations (``@i``, ``~i``) are skipped: their members are proper nouns.
* **Aiksaurus** (``/usr/share/aiksaurus``, Debian ``libaiksaurus-1.2-data``), a broad thesaurus
  derived from the Moby Thesaurus. It has meaning groups but no part of speech, so a group member
  becomes a candidate of a headword's part of speech only where the member can itself be that
  part of speech (WordNet or lemminflect says so): sense-blind but POS-consistent. Relation
  ``rel``, source ``moby``, sense id ``m<meaning id>``.
* **wordfreq** English Zipf frequencies for every word in the file and for the 20,000 most
  frequent English words, so the spinner needs no wordfreq at run time.
* A small hand-curated table of function-word swaps (``FUNCTION_WORDS``) of the kind commercial
  spinners make ("by" -> "through", "because" -> "since").

The output is deterministic: the same inputs give the same bytes (sorted keys, gzip mtime 0).
The file layout is documented in ``training/lexicon.py``; ``scripts/build_lexicon.py`` is the
command line over :func:`build_lexicon` and :func:`save_gzip_json`.

Example::

    document = build_lexicon(Path("/usr/share/wordnet"), Path("/usr/share/aiksaurus"))
    save_gzip_json(document, Path("training/data/lexicon.json.gz"))
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import io
import json
import logging
import re
import struct
from collections import Counter
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
POSES = ("n", "v", "a", "r")
WN_FILE_POS = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# Pointer symbols kept, and the relation name each becomes. `@i`/`~i` (instances) are skipped.
WN_POINTERS = {"@": "hyper", "~": "hypo", "&": "sim"}
RELATION_ORDER = ("syn", "sim", "hyper", "hypo")
# Pointer relations can fan out widely ("party" has 35 hyponym synsets); keep the most frequent.
MAX_POINTER_WORDS_PER_SENSE = 8
# Frequencies are also stored for this many of the most frequent English words (see zipf()).
COMMON_WORDS = 20_000

PLAIN_WORD = re.compile(r"^[a-z][a-z'\- ]*[a-z]$")
ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")

# Closed-class words: never headwords or candidates from WordNet/Moby. WordNet's entries for them
# are mostly homographs ("a" vitamin, "in" inch, "will" testament), wrong for a spinner.
STOPWORDS = frozenset(
    """
    a an the
    i me my mine we us our ours you your yours he him his she her hers it its they them their
    theirs myself yourself himself herself itself ourselves yourselves themselves one oneself
    this that these those who whom whose which what whatever whoever
    be am is are was were been being have has had having do does did done doing
    will would shall should can could may might must ought cannot
    about above across after against along among amongst around as at before behind below
    beneath beside besides between beyond by down during except for from in into of off on
    onto out over per since through throughout till to toward towards under until unto up upon
    via with within without amid amidst
    and but or nor so yet if because although though while whilst whether than unless whereas
    all any both each either every few many more most much neither no none not other another
    several some such own same
    there here then too also just only very
    """.split()  # noqa: SIM905 - a word list reads better as text than as 180 quoted strings
)

# Particles and prepositions that end a phrasal verb ("hammer away at", "steer clear of").
PARTICLES = frozenset(
    """
    about across after against ahead along apart around aside at away back by down for forth
    from in into it of off on onto out over round through to together under up upon with
    without
    """.split()  # noqa: SIM905
)

# Hand-curated function-word swaps (real spinners make these). Each alternative is a grammatical
# drop-in for at least the word's commonest use; keys may be phrases.
FUNCTION_WORDS: dict[str, tuple[str, ...]] = {
    "a lot of": ("plenty of", "lots of", "a great deal of"),
    "about": ("regarding", "concerning", "approximately"),
    "above": ("over", "higher than"),
    "according to": ("as per", "in accordance with"),
    "across": ("throughout", "over"),
    "after": ("following", "subsequent to"),
    "again": ("once again", "once more", "anew"),
    "against": ("in opposition to", "versus"),
    "almost": ("nearly", "practically", "virtually"),
    "along": ("alongside",),
    "already": ("previously", "by now"),
    "also": ("additionally", "likewise", "furthermore"),
    "although": ("even though", "though", "while"),
    "amid": ("amidst", "among"),
    "among": ("amongst", "amid"),
    "amongst": ("among",),
    "another": ("one more", "an additional"),
    "around": ("roughly", "approximately", "about"),
    "as soon as": ("once", "the moment"),
    "as well as": ("along with", "together with"),
    "because": ("since", "as"),
    "because of": ("due to", "owing to", "on account of"),
    "before": ("prior to", "ahead of"),
    "behind": ("at the back of", "in back of"),
    "below": ("beneath", "under", "underneath"),
    "beside": ("next to", "alongside"),
    "besides": ("apart from", "aside from", "in addition to"),
    "between": ("in between",),
    "beyond": ("past", "further than"),
    "but": ("yet",),
    "by": ("through", "via", "by means of"),
    "can": ("could", "may"),
    "cannot": ("can not", "may not", "could not"),
    "concerning": ("regarding", "about"),
    "could": ("might", "may"),
    "despite": ("in spite of", "notwithstanding", "regardless of"),
    "due to": ("because of", "owing to"),
    "during": ("throughout", "in the course of"),
    "each": ("every",),
    "enough": ("sufficient",),
    "even though": ("although", "though"),
    "every": ("each",),
    "except": ("apart from", "aside from", "save for"),
    "furthermore": ("moreover", "in addition", "additionally"),
    "hence": ("therefore", "thus"),
    "however": ("nevertheless", "nonetheless"),
    "if": ("provided that", "in the event that"),
    "in addition to": ("besides", "apart from"),
    "in order to": ("so as to", "to"),
    "in spite of": ("despite", "notwithstanding"),
    "just": ("only", "merely", "simply"),
    "many": ("numerous", "countless"),
    "may": ("might", "could"),
    "maybe": ("perhaps", "possibly"),
    "might": ("may", "could"),
    "moreover": ("furthermore", "in addition", "besides"),
    "must": ("have to", "ought to", "should"),
    "near": ("close to", "nearby"),
    "nevertheless": ("nonetheless", "however", "even so"),
    "now": ("currently", "at present", "presently"),
    "on": ("upon",),
    "only": ("just", "merely", "solely"),
    "over": ("above", "more than"),
    "per": ("for each", "for every"),
    "perhaps": ("maybe", "possibly"),
    "prior to": ("before", "ahead of"),
    "quite": ("rather", "fairly", "pretty"),
    "regarding": ("concerning", "about", "with regard to"),
    "several": ("various", "a number of", "some"),
    "shall": ("will",),
    "should": ("ought to",),
    "since": ("because", "as"),
    "so": ("thus", "therefore", "hence"),
    "so that": ("in order that",),
    "some": ("several", "a few", "certain"),
    "such as": ("like", "for example", "including"),
    "then": ("next", "subsequently", "afterwards"),
    "therefore": ("thus", "hence", "consequently"),
    "though": ("although", "even though"),
    "through": ("via", "by means of", "throughout"),
    "throughout": ("all through", "during"),
    "thus": ("therefore", "hence", "so"),
    "toward": ("towards", "in the direction of"),
    "towards": ("toward", "in the direction of"),
    "under": ("beneath", "below", "underneath"),
    "unless": ("except if",),
    "unlike": ("in contrast to", "as opposed to"),
    "until": ("till", "up until"),
    "upon": ("on",),
    "very": ("extremely", "really", "highly"),
    "via": ("through", "by way of"),
    "whenever": ("every time", "each time"),
    "whereas": ("while", "whilst"),
    "whether": ("if",),
    "while": ("whilst", "whereas"),
    "whilst": ("while",),
    "will": ("shall",),
    "within": ("inside", "inside of"),
    "without": ("with no", "lacking"),
}

SOURCES = {
    "wordnet": {
        "name": "Princeton WordNet",
        "version": "3.0",
        "licence": "WordNet 3.0 licence (BSD-like), see LICENSES.md",
        "url": "https://wordnet.princeton.edu/",
    },
    "moby": {
        "name": "Aiksaurus thesaurus data (derived from Grady Ward's Moby Thesaurus)",
        "version": "1.2",
        "licence": "GPL-2.0-or-later (Moby Thesaurus itself: public domain), see LICENSES.md",
        "url": "http://aiksaurus.sourceforge.net/",
    },
    "wordfreq": {
        "name": "wordfreq English word frequencies (Zipf scale)",
        "version": None,  # filled in from the installed package
        "licence": "CC BY-SA 4.0 (data), see LICENSES.md",
        "url": "https://github.com/rspeer/wordfreq",
    },
    "function_words": {
        # The name is stored in the shipped file; it keeps naming the script so a rebuild from
        # unchanged sources stays byte-identical.
        "name": "hand-curated function-word swaps (scripts/build_lexicon.py)",
        "version": "1",
        "licence": "Apache-2.0, as the project code",
        "url": None,
    },
}


@dataclasses.dataclass(frozen=True)
class Synset:
    """One line of a WordNet ``data.*`` file: its lemmas and its (symbol, offset, pos) pointers."""

    lemmas: tuple[str, ...]
    pointers: tuple[tuple[str, int, str], ...]


# sense id -> relation -> words ("n08256968" -> {"syn": (...), "hypo": (...)}), and
# Moby group id -> pos -> words ("m460" -> {"n": (...)}); an entry lists the sense ids of one
# (headword, pos).
SenseTable = dict[str, dict[str, tuple[str, ...]]]
Entries = dict[tuple[str, str], list[str]]


# --- WordNet ---------------------------------------------------------------------------------


def parse_wn_data_line(line: str) -> tuple[int, Synset]:
    """Parse one synset line of a WNDB ``data.*`` file (the gloss after ``|`` is ignored).

    >>> line = "00000001 00 n 02 dog 0 domestic_dog 0 001 @i 00000002 n 0000 | a gloss"
    >>> offset, synset = parse_wn_data_line(line)
    >>> offset, synset.lemmas, synset.pointers
    (1, ('dog', 'domestic_dog'), (('@i', 2, 'n'),))
    """
    fields = line.split(" | ", 1)[0].split()
    offset = int(fields[0])
    n_words = int(fields[3], 16)
    lemmas = tuple(fields[4 + 2 * i] for i in range(n_words))
    at = 4 + 2 * n_words
    n_pointers = int(fields[at])
    pointers = []
    for i in range(n_pointers):
        symbol, target, pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
        pointers.append((symbol, int(target), "a" if pos == "s" else pos))
    return offset, Synset(lemmas, tuple(pointers))


def _data_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith(" "):  # the licence header lines start with two spaces
                yield line


def load_wn_synsets(wn_dir: Path, pos: str) -> dict[int, Synset]:
    """All synsets of one part of speech, keyed by byte offset."""
    return dict(
        parse_wn_data_line(line) for line in _data_lines(wn_dir / f"data.{WN_FILE_POS[pos]}")
    )


def load_wn_index(wn_dir: Path, pos: str) -> dict[str, tuple[int, ...]]:
    """lemma (with ``_``) -> synset offsets, in WordNet's sense order (most frequent first)."""
    index = {}
    for line in _data_lines(wn_dir / f"index.{WN_FILE_POS[pos]}"):
        fields = line.split()
        n_senses = int(fields[2])
        index[fields[0]] = tuple(int(offset) for offset in fields[-n_senses:])
    return index


def clean_wn_lemma(raw: str) -> str:
    """``ready_to_hand(p)`` -> ``ready to hand``; case is kept (capitals mark proper nouns)."""
    return ADJ_MARKER.sub("", raw).replace("_", " ")


def is_plain(text: str) -> bool:
    """A lower-case word or phrase of letters, apostrophes, hyphens and spaces; no stopword."""
    return bool(PLAIN_WORD.match(text)) and text not in STOPWORDS


@functools.cache
def zipf(word: str) -> float:
    """wordfreq's English Zipf frequency, rounded to 2 decimals (what the file stores)."""
    import wordfreq

    return round(wordfreq.zipf_frequency(word, "en"), 2)


def common_words(n: int = COMMON_WORDS) -> list[str]:
    """wordfreq's ``n`` most frequent English words that are plain (stopwords included), so
    that ``Lexicon.zipf`` also knows "the" and inflected forms like "went"."""
    import wordfreq

    return [w for w in wordfreq.top_n_list("en", n) if PLAIN_WORD.match(w)]


def by_frequency(words: Iterable[str]) -> list[str]:
    """Most frequent first; ties keep their input order (sorted() is stable)."""
    return sorted(words, key=lambda word: -zipf(word))


class WordNet:
    """The four parts of speech of one WordNet database directory."""

    def __init__(self, wn_dir: Path) -> None:
        self.index = {pos: load_wn_index(wn_dir, pos) for pos in POSES}
        self.synsets = {pos: load_wn_synsets(wn_dir, pos) for pos in POSES}
        # Phrase lookups ignore the space/hyphen difference ("far out" vs WordNet's "far-out").
        self.poses_of: dict[str, set[str]] = {}
        for pos, lemmas in self.index.items():
            for lemma in lemmas:
                text = lemma.replace("_", " ")
                for key in {text, text.replace("-", " ")}:
                    self.poses_of.setdefault(key, set()).add(pos)

    def lemmas_of(self, pos: str, offset: int) -> Iterator[str]:
        for raw in self.synsets[pos][offset].lemmas:
            yield clean_wn_lemma(raw)

    def sense_words(self, pos: str, offset: int) -> dict[str, tuple[str, ...]]:
        """relation -> plain words of one synset: all its lemmas (``syn``) and the lemmas its
        ``&``/``@``/``~`` pointers reach, the most frequent few of each pointer relation."""
        by_relation: dict[str, list[str]] = {relation: [] for relation in RELATION_ORDER}
        by_relation["syn"] = list(self.lemmas_of(pos, offset))
        for symbol, target, target_pos in self.synsets[pos][offset].pointers:
            relation = WN_POINTERS.get(symbol)
            if relation is not None:
                by_relation[relation].extend(self.lemmas_of(target_pos, target))
        table = {}
        for relation, words in by_relation.items():
            words = [w for w in dict.fromkeys(words) if is_plain(w)]
            if relation != "syn":
                words = by_frequency(words)[:MAX_POINTER_WORDS_PER_SENSE]
            if words:
                table[relation] = tuple(words)
        return table

    def build(self) -> tuple[SenseTable, Entries]:
        """The synsets table and (headword, pos) -> sense ids, in WordNet's sense order, for
        every plain headword; senses that offer no word besides the headword are left out."""
        senses: SenseTable = {}
        entries: Entries = {}
        for pos in POSES:
            for raw, offsets in self.index[pos].items():
                headword = raw.replace("_", " ")
                if not is_plain(headword):
                    continue
                for offset in offsets:
                    sense = f"{pos}{offset:08d}"
                    if sense not in senses:
                        senses[sense] = self.sense_words(pos, offset)
                    if any(w != headword for words in senses[sense].values() for w in words):
                        entries.setdefault((headword, pos), []).append(sense)
        used = {sense for ids in entries.values() for sense in ids}
        return {sense: senses[sense] for sense in sorted(used)}, entries


# --- Aiksaurus (Moby) ------------------------------------------------------------------------


def parse_aiksaurus_words(data: bytes) -> list[tuple[str, tuple[int, ...]]]:
    """Parse ``words.dat``: records of a NUL-terminated word (``:`` stands for a space) followed
    by big-endian 16-bit meaning ids ending in 0xFFFF. A word's id is its record number.

    >>> parse_aiksaurus_words(b"a:la:mode\\x00\\x00\\x01\\xff\\xff")
    [('a la mode', (1,))]
    """
    words = []
    at = 0
    while at < len(data):
        end = data.index(b"\0", at)
        word = data[at:end].decode("latin-1").replace(":", " ")
        at = end + 1
        meanings = []
        while True:
            (value,) = struct.unpack_from(">H", data, at)
            at += 2
            if value == 0xFFFF:
                break
            meanings.append(value)
        words.append((word, tuple(meanings)))
    return words


def parse_aiksaurus_meanings(data: bytes) -> list[tuple[int, ...]]:
    """Parse ``meanings.dat``: per meaning, big-endian 16-bit word ids ending in 0xFFFF. The
    first two ids are the group's two title words; the members (titles included) follow, sorted.
    Returns the member lists only.

    >>> parse_aiksaurus_meanings(b"\\x00\\x02\\x00\\x00\\x00\\x00\\x00\\x02\\xff\\xff")
    [(0, 2)]
    """
    values = struct.unpack(f">{len(data) // 2}H", data)
    meanings, current = [], []
    for value in values:
        if value == 0xFFFF:
            meanings.append(tuple(current[2:]))
            current = []
        else:
            current.append(value)
    return meanings


class Moby:
    """The Aiksaurus meaning groups, with words as text."""

    def __init__(self, aik_dir: Path) -> None:
        self.words = parse_aiksaurus_words((aik_dir / "words.dat").read_bytes())
        meanings = parse_aiksaurus_meanings((aik_dir / "meanings.dat").read_bytes())
        self.groups = [tuple(self.words[i][0] for i in members) for members in meanings]


class PosGuesser:
    """Which parts of speech a word or phrase can have, as a lemma (not an inflected form)."""

    UPOS = {"NOUN": "n", "VERB": "v", "ADJ": "a", "ADV": "r"}

    def __init__(self, wordnet: WordNet) -> None:
        self.wordnet = wordnet

    @functools.cache  # noqa: B019 - one instance per build; the cache dies with it
    def word_poses(self, word: str) -> frozenset[str]:
        from lemminflect import getAllLemmas

        poses = set(self.wordnet.poses_of.get(word, ()))
        for upos, lemmas in getAllLemmas(word).items():
            if upos in self.UPOS and word in lemmas:
                poses.add(self.UPOS[upos])
        return frozenset(poses)

    def headword_poses(self, word: str) -> frozenset[str]:
        """WordNet's parts of speech when WordNet knows the word, else the guess."""
        known = self.wordnet.poses_of.get(word)
        return frozenset(known) if known else self.poses(word)

    def poses(self, text: str) -> frozenset[str]:
        if " " not in text or text in self.wordnet.poses_of:
            return self.word_poses(text)
        return self.phrase_poses(text.split())

    def phrase_poses(self, tokens: list[str]) -> frozenset[str]:
        """Head-based guess for a phrase WordNet lacks: verb + particle ("hammer away at") is a
        verb; a compound of nouns/adjectives ending in a noun ("stop light") is a noun; a
        preposition-led phrase not ending in a preposition ("in progress") is an adverb. Other
        shapes get nothing and are dropped."""
        first, last = tokens[0], tokens[-1]
        if first in PARTICLES:
            return frozenset() if last in PARTICLES else frozenset("r")
        if last in PARTICLES:
            return frozenset("v") if "v" in self.word_poses(first) else frozenset()
        content = [t for t in tokens if t not in ("and", "of")]
        if "n" in self.word_poses(last) and all(self.word_poses(t) & {"n", "a"} for t in content):
            return frozenset("n")
        return frozenset()


def build_moby(moby: Moby, guesser: PosGuesser) -> tuple[SenseTable, Entries]:
    """The Moby groups split by part of speech (members most frequent first) and
    (headword, pos) -> group ids, in the headword's group order, where the group offers a
    member of that pos besides the headword."""
    groups: SenseTable = {}
    for number, members in enumerate(moby.groups):
        by_pos: dict[str, list[str]] = {}
        for member in by_frequency(m for m in members if is_plain(m)):  # drops capitalised
            for pos in sorted(guesser.poses(member)):
                by_pos.setdefault(pos, []).append(member)
        groups[f"m{number}"] = {pos: tuple(words) for pos, words in by_pos.items()}
    entries: Entries = {}
    for headword, meanings in moby.words:
        if not is_plain(headword):
            continue
        for pos in sorted(guesser.headword_poses(headword)):
            ids = [f"m{m}" for m in meanings if set(groups[f"m{m}"].get(pos, ())) - {headword}]
            if ids:
                entries[(headword, pos)] = ids
    used = {group for ids in entries.values() for group in ids}
    return {group: groups[group] for group in sorted(used)}, entries


# --- Output ----------------------------------------------------------------------------------


def build_document(
    wordnet: tuple[SenseTable, Entries],
    moby: tuple[SenseTable, Entries],
    function_words: dict[str, tuple[str, ...]],
    sources: dict[str, dict],
) -> dict:
    """Intern the words and lay out the JSON document (see ``training/lexicon.py``)."""
    (synsets, wn_entries), (groups, moby_entries) = wordnet, moby
    keys = sorted(set(wn_entries) | set(moby_entries))
    vocabulary = {lemma for lemma, _ in keys}
    for table in (synsets, groups):
        vocabulary.update(w for lists in table.values() for words in lists.values() for w in words)
    for key, alternatives in function_words.items():
        vocabulary.add(key)
        vocabulary.update(alternatives)
    vocabulary.update(common_words())
    words = sorted(vocabulary)
    word_id = {word: i for i, word in enumerate(words)}

    def interned(table: SenseTable) -> dict[str, dict[str, list[int]]]:
        return {
            sense: {key: [word_id[w] for w in ws] for key, ws in lists.items()}
            for sense, lists in table.items()
        }

    return {
        "format": FORMAT_VERSION,
        "sources": sources,
        "words": words,
        "zipf": [zipf(word) for word in words],
        "synsets": interned(synsets),
        "moby": interned(groups),
        "entries": {
            f"{lemma}\t{pos}": wn_entries.get((lemma, pos), []) + moby_entries.get((lemma, pos), [])
            for lemma, pos in keys
        },
        "function_words": {key: list(values) for key, values in sorted(function_words.items())},
    }


def save_gzip_json(document: dict, path: Path) -> None:
    """Write deterministic bytes: sorted keys, no whitespace, gzip without name or mtime."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def file_digests(paths: Iterable[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(paths)}


def build_sources(wn_dir: Path, aik_dir: Path) -> dict[str, dict]:
    sources = json.loads(json.dumps(SOURCES))
    sources["wordfreq"]["version"] = metadata.version("wordfreq")
    sources["wordnet"]["sha256"] = file_digests(
        p for pos in POSES for p in wn_dir.glob(f"*.{WN_FILE_POS[pos]}")
    )
    sources["moby"]["sha256"] = file_digests(aik_dir.glob("*.dat"))
    sources["moby"]["pos_from"] = f"WordNet 3.0 and lemminflect {metadata.version('lemminflect')}"
    return sources


def summarize(document: dict) -> dict[str, Counter]:
    """Counts for the log, as ``training.lexicon.Lexicon.candidates`` resolves them: headwords
    per pos, candidates per relation and per source (a WordNet word counts once per sense that
    offers it; a Moby word once per entry)."""
    headwords, relations, sources = Counter(), Counter(), Counter()
    words = document["words"]
    for key, senses in document["entries"].items():
        lemma, pos = key.rsplit("\t", 1)
        headwords[pos] += 1
        moby_words = set()
        for sense in senses:
            if sense.startswith("m"):
                moby_words.update(words[i] for i in document["moby"][sense][pos])
                continue
            for relation, ids in document["synsets"][sense].items():
                n = sum(words[i] != lemma for i in ids)
                relations[relation] += n
                sources["wordnet"] += n
        relations["rel"] += len(moby_words - {lemma})
        sources["moby"] += len(moby_words - {lemma})
    return {"headwords": headwords, "relations": relations, "sources": sources}


def build_lexicon(wn_dir: Path, aik_dir: Path) -> dict:
    """Read every source and return the JSON document."""
    wordnet = WordNet(wn_dir)
    logger.info("WordNet read: %d index lemmas", sum(len(i) for i in wordnet.index.values()))
    wn_tables = wordnet.build()
    logger.info("WordNet: %d senses, %d entries", len(wn_tables[0]), len(wn_tables[1]))
    moby = Moby(aik_dir)
    logger.info("Aiksaurus read: %d words, %d meanings", len(moby.words), len(moby.groups))
    moby_tables = build_moby(moby, PosGuesser(wordnet))
    logger.info("Moby: %d groups, %d entries", len(moby_tables[0]), len(moby_tables[1]))
    return build_document(wn_tables, moby_tables, FUNCTION_WORDS, build_sources(wn_dir, aik_dir))


def log_summary(document: dict, path: Path, seconds: float) -> None:
    """Log the counts of :func:`summarize` and the size of the written file."""
    for name, counts in summarize(document).items():
        logger.info("%s: %s (total %d)", name, dict(sorted(counts.items())), counts.total())
    logger.info(
        "wrote %s: %d bytes, %d words, %d entries, %d function words, in %.1f s",
        path,
        path.stat().st_size,
        len(document["words"]),
        len(document["entries"]),
        len(document["function_words"]),
        seconds,
    )
