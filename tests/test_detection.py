"""Detection: word probabilities from the tags pass, document aggregation, calibration, metrics,
and the command line and batch paths."""

from __future__ import annotations

import json
import math

import pytest

from restore.backends import Generation
from restore.detection import (
    CALIBRATION_FILE,
    Calibration,
    CalibrationError,
    auroc,
    build_detection,
    document_features,
    fit_calibration,
    load_calibration,
    save_calibration,
    slot_word_spin,
)
from restore.text import prepare_unit

# -- aggregation, by hand --------------------------------------------------------------------


def test_words_get_their_span_probability_and_others_zero():
    text = "He ejects the crowd by means of 3 cars."
    # "by means of" is one slot: each of its words gets its probability; "3" is no word.
    d = build_detection(text, [(3, 9, 0.8), (20, 31, 0.5)])
    assert [(w.word, w.probability) for w in d.words] == [
        ("He", 0.0),
        ("ejects", 0.8),
        ("the", 0.0),
        ("crowd", 0.0),
        ("by", 0.5),
        ("means", 0.5),
        ("of", 0.5),
        ("cars", 0.0),
    ]
    assert [text[w.start : w.end] for w in d.words] == [w.word for w in d.words]
    assert d.spin_score == pytest.approx((0.8 + 1.5) / 8)
    assert d.spun_probability is None
    assert d.features == pytest.approx((2.3 / 8, 0.8, math.log(1 + 2.3)))


def test_empty_and_wordless_texts_score_zero():
    for text in ("", "   ", "12 - 3 = 9 !"):
        d = build_detection(text, [], Calibration((1.0, 1.0, 1.0), 0.0))
        assert d.words == () and d.spin_score == 0.0
        assert d.spun_probability == 0.5  # sigmoid(0): no evidence either way


def test_calibration_is_a_logistic_function_of_the_features():
    calibration = Calibration(weights=(1.0, 2.0, 0.0), bias=-1.0)
    # z = -1 + 1 * 0.5 + 2 * 0.25 = 0
    assert calibration.probability((0.5, 0.25, 7.0)) == 0.5
    assert calibration.probability((0.0, 0.0, 0.0)) == pytest.approx(1 / (1 + math.e))
    d = build_detection("Big dog", [(0, 3, 1.0)], calibration)
    # features: mean 0.5, max 1.0, log(2) -> z = -1 + 0.5 + 2 = 1.5
    assert d.spun_probability == pytest.approx(1 / (1 + math.exp(-1.5)))
    assert document_features([]) == (0.0, 0.0, 0.0)


def test_slot_spans_move_from_normalised_to_input_offsets():
    unit = "He  ejects\n the\tcommon  people."
    normal = "He ejects the common people."
    slots = [(normal.index("ejects"), normal.index("ejects") + 6), (14, 27)]
    assert normal[14:27] == "common people"
    spans = slot_word_spin(prepare_unit(unit), slots, [0.9, 0.25])
    assert [(unit[a:b], p) for a, b, p in spans] == [
        ("ejects", 0.9),
        ("common", 0.25),
        ("people", 0.25),
    ]


def test_auroc_by_hand_with_ties():
    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    # positives 0.5, 0.9; negatives 0.5, 0.2: pairs 0.5 (tie) + 1 + 1 + 1 = 3.5 of 4
    assert auroc([0.5, 0.5, 0.2, 0.9], [1, 0, 0, 1]) == 0.875
    assert auroc([1, 2, 3], [0, 1, 1]) == 1.0
    assert auroc([3, 2, 1], [0, 1, 1]) == 0.0
    with pytest.raises(ValueError, match="positive and one negative"):
        auroc([0.1, 0.2], [1, 1])


def test_fit_separates_and_balances_the_classes(tmp_path):
    # Spun documents have higher mean and max word probabilities; 3 spun per unspun, as in
    # the calibration set (rates 0.1/0.3/0.5 plus unspun).
    negatives = [(0.02 * k, 0.1 + 0.05 * k, 0.1) for k in range(10)]
    positives = [(0.15 + 0.02 * k, 0.5 + 0.02 * k, 1.0) for k in range(30)]
    features = negatives + positives
    labels = [0] * 10 + [1] * 30
    calibration = fit_calibration(features, labels, fitted_on={"split": "valid"})
    predictions = [calibration.probability(f) for f in features]
    assert auroc(predictions, labels) == 1.0
    assert max(predictions[:10]) < 0.5 < min(predictions[10:])
    # Balanced weights: the mean prediction over each class sits symmetrically around 0.5.
    mean_neg = sum(predictions[:10]) / 10
    mean_pos = sum(predictions[10:]) / 30
    assert mean_neg + mean_pos == pytest.approx(1.0, abs=0.05)

    save_calibration(calibration, tmp_path)
    assert load_calibration(tmp_path) == calibration
    data = json.loads((tmp_path / CALIBRATION_FILE).read_text())
    data["version"] = 99
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="version 99"):
        load_calibration(tmp_path)
    assert load_calibration(tmp_path / "nowhere") is None
    with pytest.raises(CalibrationError, match="both labels"):
        fit_calibration(features, [1] * 40)


# -- evaluation helpers, by hand -------------------------------------------------------------


def test_word_scores_gold_words_and_reliability_by_hand():
    from training.detection_eval import gold_words, reliability, word_scores

    row = {
        "spun": "He ejects the big throng.",
        "original": "He greets the big crowd.",
        "substitutions": [
            {"spun_start": 3, "spun_end": 9},
            {"spun_start": 18, "spun_end": 24},
        ],
    }
    assert gold_words(row) == [0, 1, 0, 0, 1]
    # predicted at 0.5: words 1, 3 -> tp 1 (ejects), fp 1 (big), fn 1 (throng)
    scores = word_scores([0, 1, 0, 0, 1], [0.1, 0.9, 0.2, 0.5, 0.4], 0.5)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 1, 1)
    assert scores["precision"] == scores["recall"] == scores["f1"] == 0.5
    table = reliability([0.05, 0.15, 0.12, 1.0], [0, 1, 0, 1], bins=10)
    assert table[0] == {"low": 0.0, "high": 0.1, "count": 1, "predicted": 0.05, "observed": 0.0}
    assert table[1]["count"] == 2 and table[1]["observed"] == 0.5
    assert table[1]["predicted"] == pytest.approx(0.135)
    assert table[9]["count"] == 1 and table[9]["observed"] == 1.0
    assert table[5]["predicted"] is None
    # Balanced: the one positive weighs as much as the three negatives together.
    table = reliability([0.15, 0.15, 0.15, 0.15], [1, 0, 0, 0], bins=2, balanced=True)
    assert table[0]["observed"] == pytest.approx(0.5) and table[0]["count"] == 4


# -- through the Restorer --------------------------------------------------------------------


class StubTagger:
    """A tags-format generator whose slot ``k`` of every source has spin probability
    ``probs[k]`` and whose choices always keep the word."""

    def __init__(self, probs):
        self.probs = probs

    def tag(self, batch, slot_ids, choice_ids):
        out = []
        for ids in batch:
            slots = [t for t in ids if t in set(slot_ids)]
            tokens = [x for t in slots for x in (t, choice_ids[0])]
            spin = tuple(self.probs[: len(slots)])
            out.append(Generation(tuple(tokens), (0.0,) * (len(tokens) + 1), True, spin))
        return out


@pytest.fixture(scope="module")
def tags_parts(tiny_detect_model):
    from restore.formats import get_format, load_settings
    from restore.loading import load_decoding, load_tokenizer

    settings = load_settings(tiny_detect_model)
    decoding = load_decoding(tiny_detect_model, settings.options.max_target_tokens)
    tokenizer = load_tokenizer(tiny_detect_model, decoding)
    bound = get_format(settings.target_format).load(tiny_detect_model, settings)
    return tokenizer, settings, bound.candidates


def test_restorer_maps_slot_probabilities_to_words(tags_parts):
    from restore import Restorer

    tokenizer, settings, candidates = tags_parts
    restorer = Restorer(
        StubTagger([0.9, 0.6, 0.3]),
        tokenizer,
        settings,
        candidates=candidates,
        calibration=Calibration((1.0, 0.0, 0.0), 0.0),
    )
    text = "The  council will ballot.\nThe common people  sanction it, 7 to 2."
    result = restorer.restore_detailed(text)
    assert result.text == text  # the stub keeps every word
    # The sources with candidates are too long for the tiny model as one unit, so each
    # sentence is a unit; the stub numbers slots per unit.
    assert len(result.units) == 2
    assert [(text[a:b], p) for a, b, p in result.word_spin] == [
        ("ballot", 0.9),
        ("common", 0.9),
        ("people", 0.9),
        ("sanction", 0.6),
    ]
    d = restorer.detect(text)
    spun = {w.word: w.probability for w in d.words if w.probability}
    assert spun == {"ballot": 0.9, "common": 0.9, "people": 0.9, "sanction": 0.6}
    assert len(d.words) == 10  # numbers and punctuation are not words
    assert d.spin_score == pytest.approx(3.3 / 10)
    assert d.spun_probability == pytest.approx(1 / (1 + math.exp(-3.3 / 10)))
    empty = build_detection("", [], restorer.calibration)
    assert restorer.detect_batch([text, "", text]) == [d, empty, d]


def test_the_tiny_detect_model_judges_exactly_its_slot_words(tiny_detect_model):
    from restore import Restorer

    restorer = Restorer.from_pretrained(tiny_detect_model, threads=1)
    assert restorer.calibration is None
    text = "The council will ballot on the plan to restitute the park."
    d = restorer.detect(text)
    judged = {w.word for w in d.words if w.probability > 0}
    assert judged <= {"ballot", "restitute", "park"}
    assert all(0.0 <= w.probability <= 1.0 for w in d.words)
    assert d.spun_probability is None
    # Detection reads the restoration's own forward pass.
    spans = restorer.restore_detailed(text).word_spin
    assert [text[a:b] for a, b, _ in spans] == ["ballot", "restitute", "park"]
    assert [w.probability for w in d.words if w.probability > 0] == [
        p for _, _, p in spans if p > 0
    ]


def test_models_that_judge_no_words_refuse_to_detect(tiny_model, tmp_path, capsys):
    from restore import Restorer
    from restore.batch import run_batch
    from restore.cli import main
    from restore.detection import DetectionUnavailable

    restorer = Restorer.from_pretrained(tiny_model, threads=1)
    assert not restorer.detects
    with pytest.raises(DetectionUnavailable, match="text-format model"):
        restorer.detect("He ejects the crowd.")
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "He ejects the crowd."}\n')
    with pytest.raises(DetectionUnavailable):
        run_batch(restorer, source, tmp_path / "out.jsonl", progress=False, detect=True)
    doc = tmp_path / "doc.txt"
    doc.write_text("He ejects the crowd.")
    assert main(["detect", str(doc), "--model", str(tiny_model), "--threads", "1"]) == 2
    assert "detection needs a model whose format judges words" in capsys.readouterr().err


def test_default_model_flags_a_spun_word_and_is_calibrated(capfd):
    from restore import Restorer

    restorer = Restorer.from_pretrained("default", threads=1)
    assert "Loading weights" not in capfd.readouterr().err  # no progress bar unless asked
    assert restorer.calibration is not None
    d = restorer.detect("The celebration ejects journalists outside the depository.")
    probs = {w.word: w.probability for w in d.words}
    assert min(probs["ejects"], probs["depository"]) > 0.5 > max(probs["outside"], probs["The"])
    assert 0.0 < d.spun_probability < 1.0
    clean = restorer.detect("The council approved the plan on Tuesday.")
    assert clean.spin_score < d.spin_score
    # The docstring example of Restorer.detect and the README's.
    d = restorer.detect("The celebration ejects the press.")
    assert round(d.spin_score, 2) == 0.25
    assert [w.word for w in d.words if w.probability > 0.5] == ["ejects"]


# -- command line and batch ------------------------------------------------------------------


def test_cli_detect_json_and_text_views(tmp_path, capsys, tiny_detect_model):
    from restore import Restorer
    from restore.cli import main

    text = "The council will ballot on the plan to restitute the park."
    path = tmp_path / "doc.txt"
    path.write_text(text, encoding="utf-8")
    args = [str(path), "--model", str(tiny_detect_model), "--threads", "1"]
    assert main(["detect", *args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = Restorer.from_pretrained(tiny_detect_model, threads=1).detect(text).to_dict()
    assert data == json.loads(json.dumps(expected))
    assert main(["detect", *args, "--threshold", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("spin score: ") and "probability spun: n/a" in out
    assert "\tballot" in out
    assert main(["detect", str(tmp_path / "missing.txt")]) == 2


def test_batch_detect_adds_the_spin_of_each_row(tmp_path, tiny_detect_model):
    from restore import Restorer
    from restore.batch import run_batch

    texts = ["The council will ballot.", "They sanction the park.", ""]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    restorer = Restorer.from_pretrained(tiny_detect_model, threads=1)
    run_batch(restorer, source, tmp_path / "out.jsonl", progress=False, detect=True)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    for row, text in zip(rows, texts):
        want = restorer.detect(text)
        # Batched with the other rows, padding may move the last float digits.
        assert row["spin"] == {
            "spin_score": pytest.approx(want.spin_score, abs=1e-5),
            "spun_probability": None,
        }


def test_ray_table_detect_columns(tiny_detect_model):
    pa = pytest.importorskip("pyarrow")
    from restore import Restorer
    from restore.ray_batch import restore_table

    restorer = Restorer.from_pretrained(tiny_detect_model, threads=1)
    table = pa.table({"text": ["The council will ballot.", None]})
    out = restore_table(restorer, table, "text", detect=True)
    assert out.column("spin_score").to_pylist() == [
        restorer.detect("The council will ballot.").spin_score,
        None,
    ]
    assert "spun_probability" in out.column_names


def test_evaluate_detection_on_hand_made_rows(tmp_path):
    from training.detection_eval import evaluate_detection, plot_reliability

    calibration = Calibration((4.0, 0.0, 0.0), -1.0)
    rows = [
        {
            "rate": 0.3,
            "spun": "He ejects the throng.",
            "original": "He greets the crowd.",
            "substitutions": [
                {"spun_start": 3, "spun_end": 9},
                {"spun_start": 14, "spun_end": 20},
            ],
        },
        {"rate": 0.3, "spun": "It rained.", "original": "It rained.", "substitutions": []},
        {"rate": 0.0, "spun": "He greets the crowd.", "original": "He greets the crowd."},
        {"rate": 0.0, "spun": "It rained.", "original": "It rained."},
    ]
    detections = [
        build_detection(rows[0]["spun"], [(3, 9, 0.9), (14, 20, 0.3)], calibration),
        build_detection(rows[1]["spun"], [], calibration),
        build_detection(rows[2]["spun"], [(3, 9, 0.6)], calibration),
        build_detection(rows[3]["spun"], [], calibration),
    ]
    results = evaluate_detection(rows, detections)
    entry = results["rates"]["0.3"]
    assert entry["paragraphs"] == 2 and entry["unchanged_by_spinner"] == 1
    # Spun: only row 0 (0.3 mean); unspun: rows 1, 2, 3 (0, 0.15, 0) -> AUROC 1.
    assert entry["auroc_spin_score"] == 1.0 and entry["auroc_spun_probability"] == 1.0
    # Words at 0.5: "ejects" found, "throng" missed, nothing wrongly flagged in spun rows.
    assert (entry["words"]["tp"], entry["words"]["fp"], entry["words"]["fn"]) == (1, 0, 1)
    assert results["words"]["recall"] == 0.5
    assert plot_reliability(results, tmp_path / "r.png").stat().st_size > 1000


def test_detect_on_a_page_judges_what_a_reader_sees(tmp_path, capsys, tiny_detect_model):
    from restore import Restorer
    from restore.cli import main

    text = "The council will ballot on the plan to restitute the park."
    page = (
        '<html><head><script>var ballot = "restitute";</script></head><body><p class="ballot">'
        'The council will <a href="/x">ballot</a> on the plan to restitute the park.</p></body>'
    )
    restorer = Restorer.from_pretrained(tiny_detect_model, threads=1)
    on_page, plain = restorer.detect_html(page), restorer.detect(text)
    # The same judgement as the text alone, with every word at its place on the page.
    assert (on_page.spin_score, on_page.spun_probability) == (
        plain.spin_score,
        plain.spun_probability,
    )
    assert [(w.word, w.probability) for w in on_page.words] == [
        (w.word, w.probability) for w in plain.words
    ]
    assert all(page[w.start : w.end] == w.word for w in on_page.words)
    path = tmp_path / "page.htm"
    path.write_text(page, encoding="utf-8")
    assert main(["detect", str(path), "--model", str(tiny_detect_model), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(on_page.to_dict()))
