"""A thesaurus we never train on: the synonyms of Webster's 1913 dictionary, from GCIDE.

Real spinners use thesauri we do not have, and a model judged only on swaps from its own two
thesauri (WordNet and Moby) is judged on what it learned. GCIDE (Debian's ``dict-gcide``, GPL)
holds Webster's 1913 "Syn." paragraphs: about 3,700 headwords with their synonyms in the
usage of a century ago ("abet": incite, instigate, egg on, foment, countenance, ...). This stage
turns them into a synonyms file in the format of :mod:`training.neighbours`, so that the spinner
can draw from it alone (``scripts/evaluate.py --thesaurus FILE``) and spin held-out news the way
a foreign spinner would. It is an evaluation source only: no training config reads it, and its
data stay out of the repository (the file is made on the machine from the Debian package).
GCIDE's synonym lines copied from WordNet 1.5 (tagged so) are left out.

    python -m training.gcide --output runs/gcide.json.gz [--dict /usr/share/dictd/gcide.dict.dz]

>>> text = '''Abet \\\\A*bet"\\\\, v. t. To encourage by aid.
...
...    Syn: To incite; instigate; set on; egg on. See {Encourage}.
...         [1913 Webster]
... '''
>>> parse_synonyms(text)
{'abet\\tv': ['incite', 'instigate', 'set on', 'egg on']}
"""

from __future__ import annotations

import argparse
import gzip
import logging
import re
import sys
from pathlib import Path

from training.neighbours import save_neighbours

logger = logging.getLogger(__name__)

DEFAULT_DICT = "/usr/share/dictd/gcide.dict.dz"
# An entry's first line: the headword, its pronunciation between backslashes, then (within a
# short stretch of etymology or respelling) its part of speech.
_HEAD_RE = re.compile(
    r"^(?P<head>[A-Za-z][A-Za-z'-]*(?: [A-Za-z][A-Za-z'-]*)?) \\[^\\]*\\[^\n]{0,60}?(?<![A-Za-z])"
    r"(?P<pos>n|v\. t|v\. i|v|a|adj|adv)\.(?:[\s,;:]|$)"
)
_POS = {"n": "n", "v. t": "v", "v. i": "v", "v": "v", "a": "a", "adj": "a", "adv": "r"}
_ITEM_RE = re.compile(r"^[a-z][a-z'-]*(?: [a-z][a-z'-]*){0,2}$")


def parse_synonyms(text: str) -> dict[str, list[str]]:
    """``"lemma<TAB>pos"`` -> the synonyms Webster 1913 lists for it, in order, from GCIDE's
    dictd text."""
    out: dict[str, list[str]] = {}
    lines = text.split("\n")
    head = None
    i = 0
    while i < len(lines):
        match = _HEAD_RE.match(lines[i])
        if match:
            head = (match["head"].lower(), _POS[match["pos"]])
        if lines[i].startswith("   Syn:") and head is not None:
            block = [lines[i][len("   Syn:") :]]
            i += 1
            while i < len(lines) and lines[i].startswith("        "):
                if lines[i].strip().startswith("["):
                    break
                block.append(lines[i])
                i += 1
            # A block ends at its source tag, or at a blank line when a usage note follows.
            source = lines[i].strip() if i < len(lines) else ""
            if "WordNet" not in source:
                words = _items(" ".join(part.strip() for part in block), head[0])
                if words:
                    found = out.setdefault(f"{head[0]}\t{head[1]}", [])
                    found.extend(w for w in words if w not in found)
        i += 1
    return out


def _items(block: str, head: str) -> list[str]:
    """The synonyms of one "Syn." paragraph: its list up to the first full stop (what follows
    is a cross-reference or a usage note), split at semicolons and commas."""
    block = re.sub(r"^\s*(?:Syn\.\s*)?-*\s*", "", block)
    block = block.replace("{", "").replace("}", "")
    listing = re.split(r"\.(?:\s|$)|--", block, maxsplit=1)[0]
    words = []
    for item in re.split(r"[;,]", listing):
        # "To incite", "a battle": a verb's or noun's marker is not part of the synonym.
        word = re.sub(r"^(?:to|a|an|the) ", "", item.strip().lower())
        if word.startswith("see ") or word == head or word in words:
            continue
        if _ITEM_RE.match(word):
            words.append(word)
    return words


def load_dict_text(path: str | Path) -> str:
    """The text of a dictd ``.dict.dz`` file (dictzip is gzip with an index in its header)."""
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
        return fh.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True)
    parser.add_argument("--dict", default=DEFAULT_DICT, help="GCIDE's dictd file")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if Path(args.output).exists() and not args.overwrite:
        print(f"error: {args.output} exists (pass --overwrite)", file=sys.stderr)
        return 2
    try:
        text = load_dict_text(args.dict)
    except OSError as err:
        print(
            f"error: cannot read {args.dict} ({err}): apt-get install dict-gcide", file=sys.stderr
        )
        return 2
    synonyms = parse_synonyms(text)
    save_neighbours(synonyms, args.output, source="gcide", title="GCIDE, Webster 1913 synonyms")
    logger.info("%d headwords with synonyms -> %s", len(synonyms), args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
