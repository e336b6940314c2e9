import gzip

import pytest

from training.evaluation import EvaluationError, Paragraph, restricted_spinner, spin_paragraphs
from training.gcide import main, parse_synonyms
from training.neighbours import read_neighbours, save_neighbours

# The layout of GCIDE's dictd text: an entry's first line at column 0, "Syn:" blocks indented,
# ended by a source tag or (before a usage note) a blank line.
DICT = """Abandon \\A*ban"don\\ ([.a]*b[a^]n"d[u^]n), v. t. [imp. & p. p.
   {Abandoned}.]
   1. To give up wholly.

   Syn: To give up; yield; forego; cede; surrender. See {Quit}.

   Usage: {To Abandon}, {Desert}, {Forsake}. These words agree in
          representing a person as giving up an object.
          [1913 Webster]

Capacity \\Ca*pac"i*ty\\ (k[.a]*p[a^]s"[i^]*t[y^]), n.; pl.
   {Capacities}.
   1. The power of receiving.

   Syn: Ability; faculty; talent; capability; skill. --Sir W.
        Scott.
        [1913 Webster]

Image \\Im"age\\, n.
   1. a visual representation.

   Syn: icon, ikon
        [WordNet 1.5]

Greet \\Greet\\, v. t.
   1. To address with salutations.

   Syn: See {Hail}.
        [1913 Webster]
"""


def test_webster_synonyms_are_read_and_wordnet_copies_left_out():
    found = parse_synonyms(DICT)
    assert found == {
        "abandon\tv": ["give up", "yield", "forego", "cede", "surrender"],
        "capacity\tn": ["ability", "faculty", "talent", "capability", "skill"],
    }


def test_main_writes_a_synonyms_file_and_refuses_to_overwrite(tmp_path, capsys):
    source = tmp_path / "gcide.dict.dz"
    with gzip.open(source, "wt", encoding="utf-8") as fh:
        fh.write(DICT)
    out = tmp_path / "gcide.json.gz"
    assert main(["--dict", str(source), "--output", str(out)]) == 0
    words, info = read_neighbours(out)
    assert words["capacity\tn"][0] == "ability" and info["source"] == "gcide"
    assert main(["--dict", str(source), "--output", str(out)]) == 2
    assert main(["--dict", str(tmp_path / "missing.dz"), "--output", str(out), "--overwrite"]) == 2
    assert "dict-gcide" in capsys.readouterr().err


def test_a_thesaurus_spinner_draws_only_from_its_file(tmp_path):
    path = tmp_path / "foreign.json.gz"
    save_neighbours({"ability\tn": ["capacity"], "vote\tv": ["ballot"]}, path, source="gcide")
    spinner = restricted_spinner(1.0, None, str(path))
    text = "Her ability to vote by mail was never in doubt, and the vote was held."
    rows = spin_paragraphs([Paragraph("p:0", "t", text)], rate=1.0, seed=0, spinner=spinner)
    swaps = rows[0]["substitutions"]
    assert {(s["original"], s["replacement"]) for s in swaps} <= {
        ("ability", "capacity"),
        ("vote", "ballot"),
    }
    assert ("ability", "capacity") in {(s["original"], s["replacement"]) for s in swaps}
    # Labelled as the file's words, not as embedding neighbours.
    assert all(s["relation"] == "near" and s["source"] == "gcide" for s in swaps)
    # A foreign thesaurus spins content words only: no function-word swaps ("by" -> "through").
    assert spinner.config.function_rate == 0.0
    with pytest.raises(EvaluationError, match="not both"):
        restricted_spinner(0.3, ["rel"], str(path))
    with pytest.raises(EvaluationError, match="cannot read"):
        restricted_spinner(0.3, None, str(tmp_path / "missing.json.gz"))


def test_detection_rows_follow_the_thesaurus(tmp_path):
    from training.detection_eval import detection_rows

    path = tmp_path / "foreign.json.gz"
    save_neighbours({"ability\tn": ["capacity"]}, path)
    paragraph = Paragraph("p:0", "t", "Her ability to vote was never in doubt.")
    rows = detection_rows([paragraph], rates=[1.0], seed=0, thesaurus=str(path))
    assert [row["rate"] for row in rows] == [1.0, 0.0]
    assert rows[0]["spun"] == "Her capacity to vote was never in doubt."
    assert rows[1]["spun"] == paragraph.text
