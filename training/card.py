"""The model card: README.md of a model directory, with its data, training and results.

``scripts/model_card.py`` adds held-out results to an existing card (:func:`add_test_results`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from restore.formats import get_format, load_settings
from restore.tagger.inverse import INVERSE_FILE, InverseTable
from training.config import ExperimentConfig, load_config
from training.tagger.inverse import SPUN_KEYS


def write_model_card(model_dir: Path, config: ExperimentConfig, metrics: dict[str, Any]) -> None:
    """README.md of the model directory: data, spinner, training, and measured figures."""
    valid = metrics.get("valid", {})
    test = metrics.get("test")
    run = metrics["train"]
    lines = [
        f"# restore model `{config.name}`",
        "",
        "A T5-style seq2seq model that restores the original wording of synonym-spun English "
        "news. Load it with `restore.Restorer.from_pretrained(path)` or plain transformers "
        "(`AutoModelForSeq2SeqLM`, `AutoTokenizer`); `restore.json` holds the input/output "
        "format.",
        "",
        "## Data",
        f"- inputs: {', '.join(config.synthesis.inputs)} (train split only; valid for model "
        "selection)",
        f"- units: {config.synthesis.unit}, at most {config.synthesis.max_words} words; "
        f"{config.synthesis.spins_per_unit} spin(s) per unit, {config.synthesis.clean_share:.0%} "
        "kept unspun",
        f"- spinner: rates {list(config.synthesis.rates) or [config.spinner.rate]}, "
        f"choice {config.spinner.choice}, relation weights {config.spinner.relation_weights}, "
        f"function-word rate {config.spinner.function_rate}",
        "",
        "## Training",
        f"- init: {config.train.init}; target format: {config.train.target_format}"
        + _format_note(config.train.target_format),
        f"- parameters: {run['parameters'] / 1e6:.1f} M; steps: {run['steps']}; "
        f"train pairs: {run['train_pairs']}",
        f"- time (last run): {run['seconds_this_run'] / 60:.1f} min on {run['hardware']}",
        "",
        "## Validation (during training)",
        _metric_line(valid),
    ]
    if test:
        lines += ["", "## Held-out test", "", *_test_table(test)]
    (model_dir / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _format_note(name: str) -> str:
    note = get_format(name).card_note
    return f" ({note})" if note else ""


def _test_table(test: dict[str, Any]) -> list[str]:
    """Rows of the held-out table: this model beside the baselines, per spin rate."""
    header = [
        f"Measured with `{test['command']}`." if test.get("command") else "",
        "",
        "| rate | system | P | R | F0.5 | false changes /100 tokens | BLEU | chrF | copy BLEU |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = []
    for m in test.get("runs", []):
        fc = m.get("false_changes_per_100_tokens")
        rows.append(
            f"| {m['rate']} | {m['system']} | {m['precision']:.3f} | {m['recall']:.3f} | "
            f"{m['f0.5']:.3f} | {'' if fc is None else f'{fc:.2f}'} | {m['bleu']:.1f} | "
            f"{m['chrf']:.1f} | {m['copy_bleu']:.1f} |"
        )
    return header + rows


def add_test_results(model_dir: str | Path, test: dict[str, Any]) -> None:
    """Record held-out results (scripts/evaluate.py's results.json: ``{"command", "runs"}``,
    each run a flat dict with system, rate and metrics) in metrics.json; rewrite the card."""
    model_dir = Path(model_dir)
    metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    metrics["test"] = test
    (model_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    config = load_config(model_dir / "training_config.yaml")
    write_model_card(model_dir, config, metrics)


def _metric_line(metrics: dict[str, Any]) -> str:
    keys = ("precision", "recall", "f0.5", "false_changes_per_100_tokens", "bleu", "chrf")
    return " | ".join(f"{k} {metrics[k]:.4g}" for k in keys if isinstance(metrics.get(k), float))


def write_tagger_card(
    model_dir: Path,
    test: dict[str, Any] | None = None,
    withheld: dict[str, Any] | None = None,
    foreign: dict[str, Any] | None = None,
) -> None:
    """README.md of a tagger model directory (``training.tagger``): its parts, training run and
    held-out figures (``test``: scripts/evaluate.py's results.json; ``withheld``: the same for
    the withheld-thesaurus check, with a ``note`` saying what was trained and scored;
    ``foreign``: the same for news spun by a thesaurus no training reads), kept in
    metrics.json."""
    model_dir = Path(model_dir)
    metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    given = {
        k: v
        for k, v in (("test", test), ("withheld", withheld), ("foreign", foreign))
        if v is not None
    }
    if given:
        metrics.update(given)
        (model_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    config = json.loads((model_dir / "tagger_config.json").read_text(encoding="utf-8"))
    options = load_settings(model_dir).options
    run, best = metrics["train"], metrics["valid"]
    table = InverseTable.load(model_dir / INVERSE_FILE)
    listed = ", with the relations it is listed under" if table.has_relations else ""
    if all(table.candidates(phrase) for phrase in SPUN_KEYS):
        listed += (
            ", and for the phrases other spinners write ('be that as it may'), the words they "
            "stand for ('however'; training.tagger.inverse.SPUN_PHRASES)"
        )
    lines = [
        "# restore tagger model",
        "",
        "Restores the original wording of synonym-spun English news and says which words were "
        "spun. Load it with `restore.Restorer.from_pretrained(path)`; `restore.json` holds its "
        "settings.",
        "",
        "## Parts",
        f"- encoder: the lower {config['layers']} layers of all-MiniLM-L6-v2 (Apache-2.0, "
        "uncased WordPiece), fine-tuned; weights in fp16 (`model.safetensors`)",
        "- heads: per word, P(a spinner wrote it); per site, a score for each candidate "
        "original (the site's encoder vector against the candidate's word-piece embeddings, "
        "plus trigram gain, topic fit and frequencies)",
        f"- `inverse.npz`: for each word a spinner may write, up to {_scored(options)} "
        "originals whose thesaurus entry lists it (WordNet 3.0 and Moby, all senses, "
        f"inflected){listed}; see training/data/LICENSES.md",
        "- `ngram/`: trigram counts of the corpus train split (stupid backoff)",
        "- `context.npz`: topic vectors of the train split's words (PPMI of co-occurrence "
        "within ten words, reduced by SVD): how well each candidate fits the rest of its unit",
        *_edit_rule_lines(options),
        "",
        "## Training",
        f"- pairs: {run['pairs']}",
        *([f"- started from: {run['init']}"] if run.get("init") else []),
        f"- {run['steps']} steps of {config['batch_size']} units in {run['minutes']:.0f} min on "
        f"{run['hardware']}; encoder LR {config['encoder_lr']}, heads {config['head_lr']}",
        f"- exported checkpoint on valid pairs (step {best['step']}, threshold "
        f"{best.get('threshold', 0.5)}): "
        f"P {best['precision']:.3f}, R {best['recall']:.3f}, F0.5 {best['f0.5']:.3f}; "
        f"word detection F1 {best['detect_f1']:.3f}; choice accuracy {best['choice_acc']:.3f} "
        f"at spun sites whose original is a candidate ({best['reach']:.1%} of them)",
    ]
    if metrics.get("test"):
        lines += ["", "## Held-out test", "", *_test_table(metrics["test"])]
    for key, heading in (
        ("withheld", "A thesaurus withheld from training"),
        ("foreign", "A thesaurus we never train on"),
    ):
        if metrics.get(key):
            lines += ["", f"## {heading}", ""]
            lines += [metrics[key]["note"], ""] if metrics[key].get("note") else []
            lines += _test_table(metrics[key])
    (model_dir / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _scored(options) -> str:
    """How many candidates a site is scored against, and how many the network trained on."""
    trained = options.trained_candidates
    if trained is None or trained == options.max_candidates:
        return str(options.max_candidates)
    return f"{options.max_candidates} (the network trained on the first {trained})"


def _edit_rule_lines(options) -> list[str]:
    from restore.tagger.edit_rule import EditTrees

    choice = (
        [
            "- the original is chosen by a learned rule (`choice_rule` in `restore.json`, "
            "restore/tagger/choice_rule.py): a conditional logit over each candidate's network "
            "log-probability, its evidence, and how its thesaurus entry lists the written word "
            "(the relations, and the entry's size under each), fitted on valid paragraphs "
            "(scripts/calibrate.py)"
        ]
        if options.choice_rule is not None
        else []
    )
    if options.edit_rule is None:
        return [
            *choice,
            "- an edit is made when P(spun) x P(original | spun) reaches the guard's "
            "`min_edit_confidence` (chosen on the valid split)",
        ]
    kind = (
        f"{len(options.edit_rule.roots)} gradient-boosted regression trees"
        if isinstance(options.edit_rule, EditTrees)
        else "a logistic model"
    )
    return [
        *choice,
        "- an edit is made when a learned rule's confidence reaches the guard's "
        "`min_edit_confidence`: the rule (`edit_rule` in `restore.json`, "
        "restore/tagger/edit_rule.py) is "
        f"{kind} of whether the edit restores the original, from P(spun), "
        "P(original | spun) and its margin over the runner-up, the candidate's evidence, and "
        "how spun the other words of its unit and document look; it was fitted on valid "
        "paragraphs, spun and clean, and the threshold chosen on other valid paragraphs "
        "(scripts/calibrate.py)",
    ]
