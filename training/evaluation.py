"""Evaluation runs: get (spun, original) pairs, restore them with a system, score and slice.

The library behind ``scripts/evaluate.py``. Pairs come from a JSONL file (rows with ``spun`` and
``original``; optional ``substitutions`` and ``rate``) or are made here from held-out corpus
paragraphs, spun with :class:`training.spinner.Spinner` and a seed derived from the run seed and
the paragraph id, so every paragraph regenerates alone. Systems are anything with
``restore_batch(texts) -> texts``: a trained model directory, a baseline, or a file of
predictions.

A corpus run scores the spun paragraphs (precision, recall, F0.5, BLEU, chrF, restored-word
accuracy) and the same paragraphs unspun (false changes per 100 tokens) separately. A pairs
file is scored as given, ERRANT-style: all rows count towards P/R/F0.5, and rows whose spun text
equals the original also give the false-change rate.

>>> rows = [{"spun": "A fete .", "original": "A party ."}]
>>> run = evaluate_rows(rows, ["A party ."], system="perfect")
>>> run["f0.5"], run["system"]
(1.0, 'perfect')
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from restore.text import count_words, split_paragraphs, split_sentences, tokenize
from training import metrics
from training.synthesize import derive_seed

logger = logging.getLogger(__name__)

BASELINES = ("identity", "inverse", "inverse-lm")
# Upper bounds (in words) of the sentence-length bins of the report; the last bin is open.
LENGTH_BINS = (10, 20, 30, 40)


class EvaluationError(RuntimeError):
    """Inputs that cannot be evaluated: a missing file, a bad row, mismatched lengths."""


class Restorer(Protocol):
    def restore_batch(self, texts: list[str]) -> list[str]: ...


PARAGRAPH_BREAK = "\n\n"


@dataclasses.dataclass(frozen=True)
class Paragraph:
    id: str  # "<document id>:<paragraph index>"
    source: str
    text: str


# -- inputs --------------------------------------------------------------------------------


def load_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSON Lines file (optionally gzip'd); blank lines are skipped."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise EvaluationError(f"{path}:{lineno}: not JSON: {err}") from err
    except OSError as err:
        raise EvaluationError(f"cannot read {path}: {err}") from err
    return rows


def save_jsonl(rows: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """Write rows as JSON Lines (UTF-8, one object per line)."""
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def load_pairs(path: str | Path) -> list[dict[str, Any]]:
    """Rows with string ``spun`` and ``original`` fields (other fields are kept)."""
    rows = load_jsonl(path)
    for n, row in enumerate(rows, 1):
        for key in ("spun", "original"):
            if not isinstance(row.get(key), str):
                raise EvaluationError(f"{path}: row {n} has no string {key!r} field")
    return rows


def load_predictions(path: str | Path, expected: int) -> list[str]:
    """The ``restored`` field of each row, in order; there must be ``expected`` rows."""
    rows = load_jsonl(path)
    if len(rows) != expected:
        raise EvaluationError(f"{path} has {len(rows)} predictions for {expected} pairs")
    restored = []
    for n, row in enumerate(rows, 1):
        if not isinstance(row.get("restored"), str):
            raise EvaluationError(f"{path}: row {n} has no string 'restored' field")
        restored.append(row["restored"])
    return restored


def iter_split_documents(corpus: str | Path, split: str) -> Iterator[dict[str, Any]]:
    """Documents of one split of a corpus folder (``*.jsonl.gz`` / ``*.jsonl``), file by file."""
    folder = Path(corpus)
    files = sorted(folder.glob("*.jsonl.gz")) + sorted(folder.glob("*.jsonl"))
    if not files:
        raise EvaluationError(f"no *.jsonl(.gz) files in {corpus}")
    for path in files:
        for row in load_jsonl(path):
            if row.get("split") == split and isinstance(row.get("text"), str):
                yield row


def select_paragraphs(
    corpus: str | Path, split: str = "test", *, max_paragraphs: int = 0, min_words: int = 5
) -> list[Paragraph]:
    """Paragraphs of a split with at least ``min_words`` words; at most ``max_paragraphs`` (0:
    all), chosen by a hash of their id, so the sample mixes sources and stays the same for
    every rate and seed."""
    found = [
        p for doc in iter_split_documents(corpus, split) for p in _paragraphs_of(doc, min_words)
    ]
    if not found:
        raise EvaluationError(f"no {split} paragraphs of {min_words}+ words in {corpus}")
    found.sort(key=lambda p: derive_seed("evaluation sample", p.id))
    return found[:max_paragraphs] if max_paragraphs else found


def _paragraphs_of(doc: Mapping[str, Any], min_words: int) -> list[Paragraph]:
    """A corpus document's paragraphs of ``min_words`` words or more, in order."""
    text = doc["text"]
    return [
        Paragraph(f"{doc['id']}:{k}", str(doc.get("source", "")), text[start:end])
        for k, (start, end) in enumerate(split_paragraphs(text))
        if count_words(text[start:end]) >= min_words
    ]


def select_documents(
    corpus: str | Path,
    split: str = "test",
    *,
    max_paragraphs: int = 0,
    min_words: int = 5,
    min_paragraphs: int = 2,
    exclude: Iterable[str] = (),
) -> list[Paragraph]:
    """The paragraphs (of ``min_words`` words or more, in order) of whole documents of a split
    that have at least ``min_paragraphs`` of them: articles, as a user restores them. Documents
    are taken in the order of a hash of their id until they hold ``max_paragraphs`` (0: all);
    those whose ids are in ``exclude`` are left out (so that, say, a rule fitted on documents
    never reads a document whose paragraphs judge it). :func:`join_documents` joins their pair
    rows back into documents."""
    skipped = set(exclude)
    documents = []
    for doc in iter_split_documents(corpus, split):
        if doc["id"] in skipped:
            continue
        kept = _paragraphs_of(doc, min_words)
        if len(kept) >= min_paragraphs:
            documents.append(kept)
    if not documents:
        raise EvaluationError(f"no {split} documents of {min_paragraphs}+ paragraphs in {corpus}")
    documents.sort(key=lambda d: derive_seed("evaluation documents", d[0].id))
    found: list[Paragraph] = []
    for document in documents:
        if max_paragraphs and len(found) >= max_paragraphs:
            break
        found.extend(document)
    return found


def document_of(paragraph_id: str) -> str:
    """The document id of a paragraph id ("<document id>:<paragraph index>")."""
    return paragraph_id.rsplit(":", 1)[0]


def join_documents(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pair rows of consecutive paragraphs of the same document (and rate) joined into one row
    per document: spun and original texts with a blank line between paragraphs, substitutions
    at their offsets in the joined spun text, the document id as ``id``.

    >>> rows = [
    ...     {"id": "d:0", "source": "s", "rate": 0.3, "spun": "A fete.", "original": "A party.",
    ...      "substitutions": [{"spun_start": 2, "spun_end": 6, "original": "party"}]},
    ...     {"id": "d:1", "source": "s", "rate": 0.3, "spun": "A fete.", "original": "A party.",
    ...      "substitutions": [{"spun_start": 2, "spun_end": 6, "original": "party"}]},
    ... ]
    >>> [doc] = join_documents(rows)
    >>> doc["spun"], [(s["spun_start"], s["spun_end"]) for s in doc["substitutions"]]
    ('A fete.\\n\\nA fete.', [(2, 6), (11, 15)])
    """
    joined: list[dict[str, Any]] = []
    for row in rows:
        key = (document_of(row["id"]), row["rate"])
        if not joined or (joined[-1]["id"], joined[-1]["rate"]) != key:
            joined.append({**row, "id": key[0], "spun": "", "original": "", "substitutions": []})
            offset = 0
        else:
            joined[-1]["spun"] += PARAGRAPH_BREAK
            joined[-1]["original"] += PARAGRAPH_BREAK
            offset = len(joined[-1]["spun"])
        doc = joined[-1]
        doc["spun"] += row["spun"]
        doc["original"] += row["original"]
        doc["substitutions"] += [
            {**s, "spun_start": s["spun_start"] + offset, "spun_end": s["spun_end"] + offset}
            for s in row.get("substitutions", ())
        ]
    return joined


def spin_paragraphs(
    paragraphs: Sequence[Paragraph], *, rate: float, seed: int, spinner: Any = None
) -> list[dict[str, Any]]:
    """Pair rows (id, source, rate, spun, original, substitutions) for spun paragraphs.

    ``spinner`` defaults to a :class:`training.spinner.Spinner` with its default settings and
    ``rate``; each paragraph is spun with ``derive_seed(seed, paragraph id, rate)``.
    """
    from training.spinner import Spinner, SpinnerConfig

    spinner = spinner or Spinner(SpinnerConfig(rate=rate))
    rows = []
    for p in paragraphs:
        result = spinner.spin(p.text, rng=random.Random(derive_seed(seed, p.id, rate)))
        subs = []
        for s in result.substitutions:
            row = dataclasses.asdict(s)
            row["inflected"] = s.inflected
            subs.append(row)
        rows.append(
            {
                "id": p.id,
                "source": p.source,
                "rate": rate,
                "spun": result.text,
                "original": p.text,
                "substitutions": subs,
            }
        )
    return rows


def restricted_spinner(rate: float, relations: Sequence[str] | None, thesaurus: str | None = None):
    """The default spinner at ``rate`` drawing only from ``relations`` (None: all of them), or
    only from the synonyms file ``thesaurus`` (``training.neighbours``' format, such as
    ``training.gcide``'s: a foreign spinner's thesaurus; no function-word swaps)."""
    from training.spinner import Spinner, SpinnerConfig

    if thesaurus:
        if relations:
            raise EvaluationError("spin with thesaurus relations or a thesaurus file, not both")
        config = SpinnerConfig(
            rate=rate, function_rate=0.0, relation_weights={"near": 1.0}, neighbours_path=thesaurus
        )
        try:
            return Spinner(config)
        except ValueError as err:  # an unreadable file or one of another format
            raise EvaluationError(str(err)) from err
    if not relations:
        return None

    default = SpinnerConfig().relation_weights
    unknown = set(relations) - set(default)
    if unknown:
        raise EvaluationError(f"unknown relations {sorted(unknown)}; known: {sorted(default)}")
    weights = {name: (w if name in relations else 0.0) for name, w in default.items()}
    return Spinner(SpinnerConfig(rate=rate, relation_weights=weights))


def add_study_arguments(parser) -> None:
    """The options the choice studies (``scripts/*_signals.py``) share: the model, and which
    paragraphs to spin at which rates (the valid split by default; never tune on test)."""
    parser.add_argument("--model", default="default")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--rate", type=float, nargs="+", default=[0.3])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-paragraphs", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)


def study_rows(
    args, relations: Sequence[str] | None = None
) -> Iterator[tuple[float, list[dict[str, Any]]]]:
    """``(rate, pair rows)`` for each rate of :func:`add_study_arguments`' options: the same
    paragraphs spun at each (by the default spinner, or one drawing only from ``relations``)."""
    paragraphs = select_paragraphs(args.corpus, args.split, max_paragraphs=args.max_paragraphs)
    for rate in args.rate:
        spinner = restricted_spinner(rate, relations)
        yield rate, spin_paragraphs(paragraphs, rate=rate, seed=args.seed, spinner=spinner)


def clean_rows(paragraphs: Sequence[Paragraph]) -> list[dict[str, Any]]:
    """Unspun pair rows (spun == original) for the false-change rate."""
    return [
        {"id": p.id, "source": p.source, "rate": 0.0, "spun": p.text, "original": p.text}
        for p in paragraphs
    ]


# -- systems -------------------------------------------------------------------------------


def build_baseline(name: str, *, lm_dir: str | Path | None = None, **settings) -> Restorer:
    """A baseline restorer by name (``identity``, ``inverse``, ``inverse-lm``).

    ``inverse-lm`` needs ``lm_dir``, a model from ``python -m training.tagger.ngram``; ``settings``
    go to :class:`training.baselines.InverseThesaurusConfig`.
    """
    from training import baselines

    if name == "identity":
        return baselines.IdentityRestorer()
    if name == "inverse":
        return baselines.InverseThesaurusRestorer(**settings)
    if name == "inverse-lm":
        from training.tagger.ngram import NgramError, load_ngram_model

        if lm_dir is None:
            raise EvaluationError(
                "the inverse-lm baseline needs --lm DIR (build one with "
                "python -m training.tagger.ngram --corpus ../shared/corpus --output runs/ngram)"
            )
        try:
            model = load_ngram_model(lm_dir)
        except NgramError as err:
            raise EvaluationError(str(err)) from err
        return baselines.NgramInverseThesaurusRestorer(model, **settings)
    raise EvaluationError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")


def load_model(model_dir: str | Path) -> Restorer:
    """A trained model directory, loaded with ``restore.Restorer.from_pretrained``."""
    try:
        from restore import RestoreError
        from restore import Restorer as ModelRestorer
    except ImportError as err:
        raise EvaluationError(
            f"--model needs restore.Restorer, which this installation lacks ({err})"
        ) from err
    try:
        return ModelRestorer.from_pretrained(model_dir)
    except (RestoreError, OSError, ValueError) as err:
        raise EvaluationError(f"cannot load the model in {model_dir}: {err}") from err


def restore_all(system: Restorer, texts: Sequence[str], *, batch_size: int = 64) -> list[str]:
    """``system.restore_batch`` over ``texts`` in batches; checks one output per input."""
    restored: list[str] = []
    for i in range(0, len(texts), batch_size):
        batch = list(texts[i : i + batch_size])
        out = system.restore_batch(batch)
        if len(out) != len(batch):
            raise EvaluationError(f"the system returned {len(out)} texts for {len(batch)}")
        restored.extend(out)
    return restored


# -- scoring -------------------------------------------------------------------------------


def evaluate_rows(
    rows: Sequence[Mapping[str, Any]],
    restored: Sequence[str],
    *,
    clean: Sequence[Mapping[str, Any]] = (),
    clean_restored: Sequence[str] = (),
    system: str = "system",
    rate: float | None = None,
) -> dict[str, Any]:
    """Score one system on pair rows (and optionally on separate clean rows): the metrics of
    :func:`training.metrics.score` plus ``system``, ``rate`` and ``slices``."""
    if len(rows) != len(restored) or len(clean) != len(clean_restored):
        raise EvaluationError("one restored text is needed per row")
    spun = [r["spun"] for r in rows]
    original = [r["original"] for r in rows]
    subs = [r.get("substitutions") for r in rows]
    has_subs = bool(rows) and all(isinstance(s, list) for s in subs)
    result: dict[str, Any] = {"system": system, "rate": rate}
    result.update(metrics.score(spun, original, restored, subs if has_subs else None))
    if clean:
        examples = [
            metrics.score_example(r["spun"], r["original"], out)
            for r, out in zip(clean, clean_restored)
        ]
        result.update(metrics.false_change_rate(examples))
    result["slices"] = slice_rows(rows, restored)
    return result


def slice_rows(rows: Sequence[Mapping[str, Any]], restored: Sequence[str]) -> dict[str, Any]:
    """Edit-level P/R/F0.5 by the rows' spin rate and by sentence length (spun words)."""
    by_rate: dict[str, list[metrics.ExampleScore]] = {}
    by_length: dict[str, list[tuple[int, int, int, int]]] = {}
    for row, out in zip(rows, restored):
        ex = metrics.score_example(row["spun"], row["original"], out)
        if not ex.clean and row.get("rate") is not None:
            by_rate.setdefault(f"{float(row['rate']):g}", []).append(ex)
        for label, counts in _sentence_counts(row["spun"], ex).items():
            by_length.setdefault(label, []).append(counts)
    slices: dict[str, Any] = {
        "by_rate": {k: metrics.edit_counts(v) for k, v in sorted(by_rate.items())},
        "by_sentence_length": {},
    }
    for label in _length_labels():
        if label in by_length:
            tp, fp, fn, tokens = (sum(c[k] for c in by_length[label]) for k in range(4))
            p, r, f = metrics.prf(tp, fp, fn)
            slices["by_sentence_length"][label] = {
                "precision": p,
                "recall": r,
                "f0.5": f,
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "tokens": tokens,
            }
    return slices


def run_system(
    name: str,
    system: Restorer,
    rows: Sequence[Mapping[str, Any]],
    *,
    clean: Sequence[Mapping[str, Any]] = (),
    clean_restored: Sequence[str] | None = None,
    rate: float | None = None,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Restore ``rows`` (and ``clean``, unless ``clean_restored`` already holds its outputs)
    with ``system`` and score them; adds ``seconds`` (restoring time)."""
    started = time.perf_counter()
    restored = restore_all(system, [r["spun"] for r in rows], batch_size=batch_size)
    if clean and clean_restored is None:
        clean_restored = restore_all(system, [r["spun"] for r in clean], batch_size=batch_size)
    seconds = time.perf_counter() - started
    result = evaluate_rows(
        rows, restored, clean=clean, clean_restored=clean_restored or (), system=name, rate=rate
    )
    result["seconds"] = round(seconds, 2)
    logger.info("%s at rate %s: F0.5 %.4f in %.1f s", name, rate, result["f0.5"], seconds)
    return result


def evaluate_corpus(
    systems: Sequence[tuple[str, Restorer]],
    paragraphs: Sequence[Paragraph],
    *,
    rates: Sequence[float],
    seed: int,
    batch_size: int = 64,
    relations: Sequence[str] | None = None,
    thesaurus: str | None = None,
    documents: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every system at every rate on the paragraphs, spun and unspun (restored once per
    system). Returns the runs (rate by rate, systems in order) and the spun pair rows. With
    ``documents``, each document's paragraphs (:func:`select_documents`) are restored together,
    as one text (:func:`join_documents`).

    ``relations`` restricts the spinner to those thesaurus relations (``rel`` alone is Moby's
    thesaurus; ``syn sim hyper hypo`` are WordNet's), for a dev set spun with sources withheld
    from a model's training pairs; ``thesaurus`` spins with a synonyms file alone
    (:func:`restricted_spinner`)."""
    joined = join_documents if documents else list
    clean = joined(clean_rows(paragraphs))
    clean_out = {
        name: restore_all(system, [r["spun"] for r in clean], batch_size=batch_size)
        for name, system in systems
    }
    runs, spun_rows = [], []
    for rate in rates:
        rows = joined(
            spin_paragraphs(
                paragraphs,
                rate=rate,
                seed=seed,
                spinner=restricted_spinner(rate, relations, thesaurus),
            )
        )
        spun_rows.extend(rows)
        for name, system in systems:
            runs.append(
                run_system(
                    name,
                    system,
                    rows,
                    clean=clean,
                    clean_restored=clean_out[name],
                    rate=rate,
                    batch_size=batch_size,
                )
            )
    return runs, spun_rows


def _length_labels() -> list[str]:
    labels, low = [], 1
    for high in LENGTH_BINS:
        labels.append(f"{low}-{high}")
        low = high + 1
    labels.append(f"{low}+")
    return labels


def _length_label(words: int) -> str:
    low = 1
    for high in LENGTH_BINS:
        if words <= high:
            return f"{low}-{high}"
        low = high + 1
    return f"{low}+"


def _sentence_counts(spun: str, ex: metrics.ExampleScore) -> dict[str, tuple[int, int, int, int]]:
    """(tp, fp, fn, tokens) per sentence-length bin of one example; an edit belongs to the
    sentence of the spun text holding its first token."""
    tokens = tokenize(spun)
    sentences = split_sentences(spun) or [(0, 0)]
    # The sentence of each token, and each sentence's length in words.
    owner, words = [], [0] * len(sentences)
    s = 0
    for tok in tokens:
        while s + 1 < len(sentences) and tok.start >= sentences[s + 1][0]:
            s += 1
        owner.append(s)
        words[s] += tok.kind != "other"
    owner.append(owner[-1] if owner else 0)  # an insertion after the last token
    counts: dict[str, list[int]] = {}

    def cell(edit_start: int) -> list[int]:
        return counts.setdefault(_length_label(words[owner[edit_start]]), [0, 0, 0, 0])

    for e in ex.matched:
        cell(e.start)[0] += 1
    for e in ex.system:
        if e not in ex.matched:
            cell(e.start)[1] += 1
    for e in ex.gold:
        if e not in ex.matched:
            cell(e.start)[2] += 1
    for i in range(len(tokens)):
        cell(i)[3] += 1
    return {k: tuple(v) for k, v in counts.items()}
