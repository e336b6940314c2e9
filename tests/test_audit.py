from pathlib import Path

import pytest

from training.audit import audit, sample_paragraphs

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def test_audit_on_fixture_paragraphs():
    import json

    root = Path(__file__).resolve().parents[1]
    with open(root / "tests/data/tiny_news.jsonl", encoding="utf-8") as fh:
        paragraphs = [p for row in map(json.loads, fh) for p in row["text"].split("\n\n")]
    report = audit(paragraphs, 0.4, seed=1)
    assert abs(report["achieved_rate"] - 0.4) < 0.02
    assert report["number_changes"] == report["mid_sentence_capital_changes"] == 0
    assert report["span_errors"] == 0


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")
def test_held_out_news_paragraphs():
    paragraphs = sample_paragraphs(CORPUS, "test", 300, seed=0)
    for rate in (0.1, 0.5):
        report = audit(paragraphs, rate, seed=0)
        assert abs(report["achieved_rate"] - rate) <= 0.03
        assert report["number_changes"] == report["mid_sentence_capital_changes"] == 0
        assert report["span_errors"] == 0
