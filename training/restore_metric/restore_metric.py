"""The restore metrics as a local ``evaluate`` module (loads offline, by path).

    >>> import evaluate
    >>> metric = evaluate.load("training/restore_metric")
    >>> metric.compute(sources=["A fete ."], predictions=["A party ."],
    ...                references=["A party ."])["f0.5"]
    1.0

``sources`` are the spun texts, ``predictions`` the restored texts, ``references`` the original
texts. Optional: ``substitutions`` (one list of spinner substitution dicts per example) adds
restored-word accuracy; ``text_metrics=False`` skips BLEU and chrF. The computation is
``training.metrics.score``; see that module for the definitions.
"""

import datasets
import evaluate

from training.metrics import score

_DESCRIPTION = """Edit-level precision, recall and F0.5 (ERRANT/M2 style) of restoring spun text,
false changes per 100 tokens on clean text, exact match, BLEU and chrF next to the copy
baseline, and per-substitution restored-word accuracy."""

_KWARGS_DESCRIPTION = """
Args:
    sources: spun texts. predictions: restored texts. references: original texts.
    substitutions: optional, per example a list of dicts with spun_start, spun_end, original
        (and start, end, kind, pos, tag, inflected) as written by training.spinner.
    text_metrics: compute BLEU and chrF (default True).
Returns: a dict; see training.metrics.score.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class RestoreMetric(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "sources": datasets.Value("string"),
                    "predictions": datasets.Value("string"),
                    "references": datasets.Value("string"),
                }
            ),
        )

    def _compute(self, sources, predictions, references, substitutions=None, text_metrics=True):
        return score(sources, references, predictions, substitutions, text_metrics=text_metrics)
