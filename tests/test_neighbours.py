import gzip

import numpy as np
import pytest

from training.config import SpinnerConfig
from training.lexicon import Lexicon
from training.neighbours import build_neighbours, load_neighbours, main, save_neighbours
from training.spinner import Spinner, apply_substitutions

NEAR_ONLY = {"syn": 0.0, "sim": 0.0, "rel": 0.0, "hyper": 0.0, "hypo": 0.0, "near": 1.0}


def test_neighbours_keep_the_part_of_speech_and_drop_own_inflections_and_far_words():
    words = ["image", "images", "picture", "pictures", "photograph", "depict", "table"]
    vectors = np.array(
        [[1.0, 0.0], [1.0, 0.05], [0.95, 0.1], [0.95, 0.12], [0.9, 0.3], [0.9, 0.2], [0.0, 1.0]]
    )
    found = build_neighbours(words, vectors, Lexicon.load(), min_cosine=0.5)
    # "images" is the headword's own plural; "pictures" reads as "picture" (kept once);
    # "depict" is no noun; "table" is too far.
    assert found["image\tn"] == ["picture", "photograph"]
    assert "depict" in found["picture\tv"]
    assert all("table" not in near for near in found.values())


def test_per_word_caps_the_list_nearest_first():
    words = ["big", "large", "huge", "enormous", "massive"]
    vectors = np.array([[1.0, 0.0], [0.99, 0.1], [0.9, 0.3], [0.95, 0.2], [0.8, 0.5]])
    found = build_neighbours(words, vectors, Lexicon.load(), per_word=2)
    assert found["big\ta"] == ["large", "enormous"]


def test_save_and_load_round_trip_and_bad_files(tmp_path):
    path = tmp_path / "near.json.gz"
    save_neighbours({"image\tn": ["picture"]}, path, encoder="test")
    assert load_neighbours(path) == {"image\tn": ("picture",)}
    (tmp_path / "plain.json.gz").write_text("not gzip")
    with pytest.raises(ValueError, match="cannot read"):
        load_neighbours(tmp_path / "plain.json.gz")
    with gzip.open(tmp_path / "old.json.gz", "wt") as fh:
        fh.write('{"format": 99, "neighbours": {}}')
    with pytest.raises(ValueError, match="format 1"):
        load_neighbours(tmp_path / "old.json.gz")


def test_cli_refuses_to_overwrite(tmp_path):
    out = tmp_path / "near.json.gz"
    out.write_text("")
    assert main(["--output", str(out)]) == 2


def test_spinner_draws_near_words_inflected_and_labelled():
    neighbours = {"image\tn": ("picture",), "greet\tv": ("welcome",)}
    spinner = Spinner(SpinnerConfig(rate=1.0, relation_weights=NEAR_ONLY), neighbours=neighbours)
    text = "She greets the crowd and shows two images."
    result = spinner.spin(text, seed=0)
    assert result.text == "She welcomes the crowd and shows two pictures."
    assert {(s.relation, s.source) for s in result.substitutions} == {("near", "embedding")}
    assert apply_substitutions(text, result.substitutions) == result.text


def test_spinner_reads_the_neighbours_file_named_in_its_config(tmp_path):
    path = tmp_path / "near.json.gz"
    save_neighbours({"image\tn": ["picture"]}, path)
    config = SpinnerConfig(rate=1.0, relation_weights=NEAR_ONLY, neighbours_path=str(path))
    assert Spinner(config).spin("The image.", seed=0).text == "The picture."


def test_near_weight_needs_a_neighbours_file():
    with pytest.raises(ValueError, match="neighbours_path"):
        Spinner(SpinnerConfig(relation_weights=NEAR_ONLY))
