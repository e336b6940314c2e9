"""Tokenizer stage: train a SentencePiece model and ship it as a Hugging Face fast tokenizer.

The output folder holds ``tokenizer.json`` + ``tokenizer_config.json`` (what
``AutoTokenizer.from_pretrained`` reads; neither sentencepiece nor protobuf is needed to load
them), the original ``spiece.model``, and ``tokenizer_info.json`` (config, seed, line counts,
library versions).

>>> import tempfile
>>> words = "council budget minister talks plan river bank party vote city".split()
>>> lines = [f"The {words[n % 10]} met {n} times in {2000 + n % 20}." for n in range(300)]
>>> folder = Path(tempfile.mkdtemp()) / "tokenizer"
>>> out = train_tokenizer(lines, folder, TokenizerConfig(vocab_size=348), seed=1)
>>> tok = load_tokenizer(out)
>>> ids = tok("Hello  world").input_ids          # ends with </s> (id 1)
>>> tok.decode(ids, skip_special_tokens=True)
'Hello  world'

Contract of the trained tokenizer:

* T5 special ids: ``<pad>`` = 0, ``</s>`` = 1, ``<unk>`` = 2, no BOS; encoding appends ``</s>``.
* Exact round trip: ``decode(encode(text), skip_special_tokens=True) == text`` for any text
  (spaces anywhere, tabs, newlines, control and combining characters, emoji, CJK: unseen
  characters fall back to UTF-8 byte pieces) -- with one exception: the character ``▁``
  (U+2581) is SentencePiece's space marker and decodes as a plain space, as it does in
  sentencepiece itself.
* The fast tokenizer produces exactly the ids of ``spiece.model`` (checked at training time).
* Literal ``<pad>``, ``</s>``, ``<unk>`` or ``<0x41>`` in the input are plain text, never special
  or byte pieces: the tokenizer is saved with ``split_special_tokens=True`` and ``<`` is always its
  own piece (see ``ISOLATED_CHAR``). Passing ``split_special_tokens=False`` to a call,
  or loading ``tokenizer.json`` with the bare ``tokenizers`` library (whose ``Tokenizer`` does not
  store that flag; set ``encode_special_tokens = True`` there) parses them as special tokens.
* ``extra_tokens`` are always single tokens, also when they occur in raw text, and are ordinary
  (not special) tokens, so decoding keeps them.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import random
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import tokenizers
import transformers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers import processors as tk_processors
from tokenizers.models import BPE, Unigram
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from training.config import (
    EOS_TOKEN,
    ISOLATED_CHAR,
    PAD_TOKEN,
    SPACE_MARKER,
    UNK_TOKEN,
    ConfigError,
    ExperimentConfig,
    TokenizerConfig,
    add_config_arguments,
    config_from_args,
)

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
INFO_FILE = "tokenizer_info.json"
SPM_FILE = "spiece.model"
TOKENIZER_FILE = "tokenizer.json"

PAD_ID, EOS_ID, UNK_ID = 0, 1, 2
# Training lines longer than this are cut at spaces (sentencepiece silently skips lines over
# its max_sentence_length). Pieces never cross a space, so the cut loses no statistics.
MAX_LINE_BYTES = 4096
# Round-trip probe run after training and on every load.
PROBE_TEXT = (
    "  Zoë Müller said: “It’s 3.5 km—naïve café”\t(1999)\n\n東京 😀 e\u0301 "
    "<pad> </s> <unk> <0x41> \x00end  "
)
_REGEX_SPECIAL = set("\\.^$|?*+()[]{}")


class TokenizerError(ValueError):
    """A tokenizer is missing, broken, or does not meet the contract of this module."""


def train_tokenizer(
    texts: Iterable[str],
    out_dir: str | Path,
    config: TokenizerConfig,
    *,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Train a SentencePiece model on ``texts`` and save it as a fast tokenizer in ``out_dir``.

    ``texts`` is streamed to a temporary file in ``out_dir`` (newlines become spaces for training
    only). Above ``config.max_sentences`` lines, a sample drawn with ``seed`` is used. The same
    texts, config and seed give byte-identical files. Refuses to replace an earlier tokenizer in
    ``out_dir`` unless ``overwrite``. Returns ``out_dir`` as a Path.

    >>> import tempfile
    >>> words = "council budget minister talks plan river bank party vote city".split()
    >>> texts = [f"The {words[n % 10]} met {n} times in {2000 + n % 20}." for n in range(300)]
    >>> folder = Path(tempfile.mkdtemp()) / "tokenizer"
    >>> out = train_tokenizer(texts, folder, TokenizerConfig(vocab_size=348), seed=1)
    >>> sorted(p.name for p in out.iterdir())
    ['spiece.model', 'tokenizer.json', 'tokenizer_config.json', 'tokenizer_info.json']
    """
    import sentencepiece as spm  # training only: loading a trained tokenizer must not need it

    config.validate()
    out = Path(out_dir)
    existing = [n for n in (TOKENIZER_FILE, SPM_FILE, INFO_FILE) if (out / n).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{out} already holds {existing}; pass overwrite=True to replace")
    out.mkdir(parents=True, exist_ok=True)
    user_defined = _user_defined_symbols(config)

    with tempfile.TemporaryDirectory(prefix="spm-", dir=out) as tmp:
        all_lines = Path(tmp, "all.txt")
        seen = _write_lines(_training_lines(texts), all_lines)
        if seen == 0:
            raise TokenizerError("no non-empty training text")
        train_file = Path(tmp, "train.txt")
        used = _sample_lines(all_lines, train_file, seen, config.max_sentences, seed)
        logger.info("training %s tokenizer on %d of %d lines", config.model_type, used, seen)
        # Sets sentencepiece's process-wide generator; the sampling above does not depend on it.
        spm.set_random_generator_seed(seed)
        model = io.BytesIO()
        try:
            # An iterator and a writer rather than file paths: sentencepiece records its input
            # and output paths in the model, and two runs must give byte-identical files.
            with open(train_file, encoding="utf-8", newline="\n") as lines:
                spm.SentencePieceTrainer.train(
                    sentence_iterator=(line.rstrip("\n") for line in lines),
                    model_writer=model,
                    vocab_size=config.vocab_size,
                    model_type=config.model_type,
                    character_coverage=config.character_coverage,
                    byte_fallback=True,
                    normalization_rule_name="identity",
                    remove_extra_whitespaces=False,
                    split_digits=True,
                    user_defined_symbols=user_defined,
                    pad_id=PAD_ID,
                    eos_id=EOS_ID,
                    unk_id=UNK_ID,
                    bos_id=-1,
                    pad_piece=PAD_TOKEN,
                    eos_piece=EOS_TOKEN,
                    unk_piece=UNK_TOKEN,
                    input_sentence_size=0,  # sampled above, with our seed
                    shuffle_input_sentence=False,
                    max_sentence_length=MAX_LINE_BYTES,
                    num_threads=config.num_threads,
                    minloglevel=1,
                )
        except RuntimeError as err:
            raise TokenizerError(f"sentencepiece training failed: {err}") from err
        processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
        backend = build_fast_tokenizer(processor, user_defined, config.model_type)
        _check_same_ids(processor, backend, _head(train_file, 1000))

    (out / SPM_FILE).write_bytes(model.getvalue())

    fast = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD_TOKEN,
        eos_token=EOS_TOKEN,
        unk_token=UNK_TOKEN,
        model_max_length=config.model_max_length,
        clean_up_tokenization_spaces=False,
        split_special_tokens=True,
    )
    fast.save_pretrained(out)
    _write_info(out, config, seed=seed, vocab_size=processor.get_piece_size(), seen=seen, used=used)
    load_tokenizer(out)  # the saved files must pass the same checks as any later load
    return out


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """Load a tokenizer folder written by :func:`train_tokenizer` and check it.

    Raises :class:`TokenizerError` if the folder has no ``tokenizer.json``, cannot be loaded, or
    fails :func:`check_tokenizer`.

    >>> import tempfile
    >>> words = "council budget minister talks plan river bank party vote city".split()
    >>> texts = [f"The {words[n % 10]} met {n} times in {2000 + n % 20}." for n in range(300)]
    >>> folder = Path(tempfile.mkdtemp()) / "tokenizer"
    >>> tok = load_tokenizer(train_tokenizer(texts, folder, TokenizerConfig(vocab_size=348)))
    >>> tok.eos_token_id, tok.pad_token_id
    (1, 0)
    """
    folder = Path(path)
    if not (folder / TOKENIZER_FILE).is_file():
        raise TokenizerError(f"{folder} holds no {TOKENIZER_FILE}: not a trained tokenizer folder")
    info_file = folder / INFO_FILE
    if info_file.is_file():
        try:
            version = json.loads(info_file.read_text(encoding="utf-8")).get("format_version")
        except (OSError, ValueError, AttributeError) as err:
            raise TokenizerError(f"cannot read {info_file}: {err}") from err
        if version != FORMAT_VERSION:
            raise TokenizerError(
                f"{info_file}: format_version {version!r}, this code reads {FORMAT_VERSION}"
            )
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise TokenizerError(f"cannot load the tokenizer in {folder}: {err}") from err
    check_tokenizer(tokenizer)
    return tokenizer


def check_tokenizer(tokenizer: PreTrainedTokenizerFast, probe: str = PROBE_TEXT) -> None:
    """Raise :class:`TokenizerError` unless ``tokenizer`` meets this module's contract.

    Checks the T5 special ids, that encoding appends ``</s>`` and yields no ``<unk>``, and an
    exact round trip of ``probe``. Catches, for instance, transformers 5's
    ``T5Tokenizer(vocab_file=...)``, which ignores the file and maps every word to ``<unk>``.
    """
    if not isinstance(tokenizer, PreTrainedTokenizerFast):
        raise TokenizerError(f"expected a fast tokenizer, got {type(tokenizer).__name__}")
    ids = (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id)
    if ids != (PAD_ID, EOS_ID, UNK_ID):
        raise TokenizerError(
            f"special ids (pad, eos, unk) are {ids}, expected {(PAD_ID, EOS_ID, UNK_ID)}"
        )
    encoded = tokenizer(probe).input_ids
    if not encoded or encoded[-1] != EOS_ID:
        raise TokenizerError("encoding does not append </s>")
    if UNK_ID in encoded:
        raise TokenizerError("the probe text encodes to <unk>: the vocabulary did not load")
    decoded = tokenizer.decode(encoded, skip_special_tokens=True)
    if decoded != probe:
        raise TokenizerError(f"round trip failed: {probe!r} came back as {decoded!r}")


def build_fast_tokenizer(processor, user_defined: list[str], model_type: str) -> Tokenizer:
    """Build a ``tokenizers.Tokenizer`` that encodes exactly like a SentencePiece ``processor``.

    Made for models trained by :func:`train_tokenizer` (identity normalisation, no whitespace
    cleanup, dummy prefix, byte fallback, ``user_defined`` symbols including ``<``), of
    ``model_type`` "unigram" or "bpe". Reads pieces and scores through sentencepiece's API, so
    no protobuf is needed (the API does not tell the model type, hence the argument).
    """
    pieces = [
        (processor.id_to_piece(i), processor.get_score(i))
        for i in range(processor.get_piece_size())
    ]
    if processor.pad_id() != PAD_ID or processor.eos_id() != EOS_ID:
        raise TokenizerError("the sentencepiece model lacks T5's pad=0, eos=1")
    if processor.unk_id() != UNK_ID or processor.bos_id() != -1:
        raise TokenizerError("the sentencepiece model lacks T5's unk=2 and no bos")
    if processor.piece_to_id(SPACE_MARKER) == UNK_ID:
        # The decoder turns "▁" into a space before it resolves byte pieces.
        raise TokenizerError("the sentencepiece model has no ▁ piece")
    if model_type == "unigram":
        model = Unigram(pieces, unk_id=UNK_ID, byte_fallback=True)
    else:
        model = _bpe_model(processor, pieces, user_defined)
    backend = Tokenizer(model)
    # SentencePiece writes spaces as ▁ and adds one ▁ in front ("dummy prefix"). Metaspace skips
    # that prefix when the text already starts with ▁, so double a leading one to keep it.
    backend.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(" ", SPACE_MARKER),
            normalizers.Replace(Regex(r"\A▁"), SPACE_MARKER * 2),
        ]
    )
    pattern = "|".join(_regex_escape(s) for s in sorted(user_defined, key=len, reverse=True))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=SPACE_MARKER, prepend_scheme="first", split=False),
            # SentencePiece emits user-defined symbols whole and never merges across them.
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
        ]
    )
    backend.decoder = decoders.Sequence(
        [
            decoders.Replace(SPACE_MARKER, " "),
            decoders.ByteFallback(),
            # Strip works per token: fuse first so only the dummy prefix of the text goes.
            decoders.Fuse(),
            decoders.Strip(content=" ", left=1, right=0),
        ]
    )
    backend.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in (PAD_TOKEN, EOS_TOKEN, UNK_TOKEN)]
    )
    backend.post_processor = tk_processors.TemplateProcessing(
        single=f"$A {EOS_TOKEN}",
        pair=f"$A {EOS_TOKEN} $B {EOS_TOKEN}",
        special_tokens=[(EOS_TOKEN, EOS_ID)],
    )
    # Literal "</s>" in raw text stays text (transformers restores this from split_special_tokens).
    backend.encode_special_tokens = True
    return backend


def _user_defined_symbols(config: TokenizerConfig) -> list[str]:
    return [ISOLATED_CHAR, *config.extra_tokens]


def _bpe_model(processor, pieces: list[tuple[str, float]], user_defined: list[str]) -> BPE:
    vocab = {piece: i for i, (piece, _) in enumerate(pieces)}
    special = set(user_defined)
    normal = {
        piece: (score, i)
        for i, (piece, score) in enumerate(pieces)
        if not (
            processor.is_control(i)
            or processor.is_unknown(i)
            or processor.is_byte(i)
            or processor.is_unused(i)
            or piece in special
        )
    }
    # SentencePiece BPE applies the merge whose result scores best; rank merges the same way.
    ranked = []
    for piece, (score, i) in normal.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in normal and right in normal:
                ranked.append((-score, i, left, right))
    merges = [(left, right) for _, _, left, right in sorted(ranked)]
    # ignore_merges: a pre-token that is itself a piece (an isolated user-defined symbol, which
    # no merge builds) is taken whole.
    return BPE(
        vocab=vocab,
        merges=merges,
        unk_token=UNK_TOKEN,
        fuse_unk=True,
        byte_fallback=True,
        dropout=None,
        ignore_merges=True,
    )


def _check_same_ids(processor, backend: Tokenizer, lines: list[str]) -> None:
    for text in [PROBE_TEXT, *lines]:
        expected = processor.encode(text)
        got = backend.encode(text, add_special_tokens=False).ids
        if got != expected:
            raise TokenizerError(
                f"fast tokenizer disagrees with sentencepiece on {text[:80]!r}: "
                f"{got[:20]} vs {expected[:20]}"
            )


def _training_lines(texts: Iterable[str]) -> Iterator[str]:
    for text in texts:
        flat = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
        if flat.strip(" "):
            yield from _cut_line(flat, MAX_LINE_BYTES)


def _cut_line(line: str, limit: int) -> Iterator[str]:
    """Cut ``line`` at spaces into parts of at most ``limit`` UTF-8 bytes (words longer than that
    are cut anywhere). Joining the parts with single spaces gives ``line`` back."""
    if len(line.encode("utf-8")) <= limit:
        yield line
        return
    part: list[str] = []
    size = 0
    for word in line.split(" "):
        width = len(word.encode("utf-8"))
        if part and size + 1 + width > limit:
            yield " ".join(part)
            part, size = [], 0
        if width > limit:
            yield from _cut_word(word, limit)
            continue
        size = size + 1 + width if part else width
        part.append(word)
    if part:
        yield " ".join(part)


def _cut_word(word: str, limit: int) -> Iterator[str]:
    start = 0
    size = 0
    for i, ch in enumerate(word):
        width = len(ch.encode("utf-8"))
        if size + width > limit:
            yield word[start:i]
            start, size = i, 0
        size += width
    yield word[start:]


def _write_lines(lines: Iterable[str], path: Path) -> int:
    count = 0
    # newline="\n": no platform translation; errors="replace": lone surrogates cannot be trained.
    with open(path, "w", encoding="utf-8", errors="replace", newline="\n") as fh:
        for line in lines:
            fh.write(line)
            fh.write("\n")
            count += 1
    return count


def _sample_lines(source: Path, target: Path, total: int, limit: int, seed: int) -> int:
    if total <= limit:
        source.replace(target)
        return total
    keep = set(random.Random(seed).sample(range(total), limit))
    with (
        open(source, encoding="utf-8", newline="\n") as src,
        open(target, "w", encoding="utf-8", newline="\n") as dst,
    ):
        for index, line in enumerate(src):
            if index in keep:
                dst.write(line)
    return limit


def _head(path: Path, count: int) -> list[str]:
    lines = []
    with open(path, encoding="utf-8", newline="\n") as fh:
        for line in fh:
            lines.append(line.rstrip("\n"))
            if len(lines) == count:
                break
    return lines


def _write_info(
    out: Path, config: TokenizerConfig, *, seed: int, vocab_size: int, seen: int, used: int
) -> None:
    import sentencepiece as spm

    info = {
        "format_version": FORMAT_VERSION,
        "vocab_size": vocab_size,
        "special_ids": {"pad": PAD_ID, "eos": EOS_ID, "unk": UNK_ID},
        "user_defined_symbols": _user_defined_symbols(config),
        "config": dataclasses.asdict(config),
        "seed": seed,
        "training_lines": {"seen": seen, "used": used},
        "versions": {
            "sentencepiece": spm.__version__,
            "tokenizers": tokenizers.__version__,
            "transformers": transformers.__version__,
        },
    }
    (out / INFO_FILE).write_text(
        json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def _regex_escape(text: str) -> str:
    # tokenizers' Regex is Oniguruma: escape only its metacharacters (re.escape's extra escapes
    # are not all valid there).
    return "".join("\\" + ch if ch in _REGEX_SPECIAL else ch for ch in text)


# -- the pipeline stage --------------------------------------------------------------------


def build_tokenizer(
    config: ExperimentConfig, output_dir: str | Path, *, overwrite: bool = False
) -> dict:
    """Train the experiment's tokenizer on the train split of its pairs (both sides).

    Reads ``<output_dir>/pairs`` (written by ``training.synthesize``), writes
    ``<output_dir>/tokenizer`` and returns its manifest, which also records tokens per pair.
    """
    import datasets

    out = Path(output_dir)
    pairs_dir = out / "pairs"
    if not pairs_dir.is_dir():
        raise TokenizerError(f"{pairs_dir} not found: run training.synthesize first")
    pairs = datasets.load_from_disk(str(pairs_dir))
    if "train" not in pairs:
        raise TokenizerError(f"{pairs_dir} has no train split")
    train_split = pairs["train"]

    def texts() -> Iterator[str]:
        for batch in train_split.select_columns(["spun", "original"]).iter(batch_size=1024):
            for spun, original in zip(batch["spun"], batch["original"]):
                yield original
                if spun != original:
                    yield spun

    path = train_tokenizer(
        texts(), out / "tokenizer", config.tokenizer, seed=config.seed, overwrite=overwrite
    )
    tokenizer = load_tokenizer(path)
    manifest = {"stage": "tokenizer", "vocab_size": len(tokenizer)}
    for split in pairs:
        sample = pairs[split].select(range(min(len(pairs[split]), 2000)))
        spun = [len(ids) for ids in tokenizer(list(sample["spun"])).input_ids]
        original = [len(ids) for ids in tokenizer(list(sample["original"])).input_ids]
        manifest[f"{split}_tokens_per_pair"] = {
            "sample": len(sample),
            "spun_mean": round(sum(spun) / max(len(spun), 1), 2),
            "original_mean": round(sum(original) / max(len(original), 1), 2),
            "spun_max": max(spun, default=0),
        }
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """``python -m training.tokenizer --config configs/tiny.yaml [--output-dir DIR]``."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m training.tokenizer",
        description="Train the tokenizer on the train split of an experiment's pairs.",
    )
    add_config_arguments(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier tokenizer")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = config_from_args(args)
        manifest = build_tokenizer(config, config.output_dir, overwrite=args.overwrite)
    except (ConfigError, TokenizerError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
