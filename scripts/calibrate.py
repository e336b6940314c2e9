"""Choose a model's per-edit confidence threshold on the valid split, and optionally save it.

    python scripts/calibrate.py --model runs/default/model --corpus ../shared/corpus \
        --max-paragraphs 500 --max-false-changes 0.3 [--rate 0.1 0.3 0.5] [--write]

Restores valid paragraphs spun at each ``--rate`` (optionally with ``--relations`` only, as in
``scripts/evaluate.py``), and the same paragraphs unspun, once per threshold, with that
threshold as the guard's ``min_edit_confidence`` (a format may leave unsure proposals out before
aligning, which post-hoc filtering of one run's edits would not show). Prints precision, recall,
F0.5 and false changes per 100 tokens for each threshold, all rates pooled, and picks the one
with the best F0.5 among those within ``--max-false-changes`` (else the fewest false changes);
``--write`` stores it as ``guard.min_edit_confidence`` in the model's ``restore.json``. Never
use the test split here.

A tagger model also gets a learned edit rule (:mod:`restore.edit_rule`: logistic, or
gradient-boosted trees, whichever scores better), and with
``--choice-rule`` a learned choice rule (:mod:`restore.choice_rule`), fitted on the next
``--fit-paragraphs`` valid paragraphs (spun at the same rates, and clean), never on the ones the
threshold is chosen on. Every threshold is tried with and without each rule (the network's own
choice; its own P(spun) x P(original | spun)); the encoder runs once per unit and choice.
``--write`` stores the chosen rules too (or removes them, when the network's own wins). The
choice rule learns which thesaurus relations the spinner of these paragraphs draws from: it
pays on text spun from the same thesauri and costs on text spun from others (README), so it is
not tried unless asked for.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from restore import Restorer
from restore.format import load_settings, save_settings
from training import evaluation, metrics
from training.choice_rule import choice_accuracy, choice_examples, fit_choice_rule
from training.edit_rule import fit_rule, fit_trees, labelled_features

THRESHOLDS = (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9)


def choose(rows: list[dict], max_false_changes: float) -> dict:
    """The row with the best F0.5 among those within ``max_false_changes`` (the first of
    equals), else the one with the fewest false changes."""
    allowed = [r for r in rows if r["false_changes_per_100_tokens"] <= max_false_changes]
    if allowed:
        return max(allowed, key=lambda r: r["f0.5"])
    return min(rows, key=lambda r: r["false_changes_per_100_tokens"])


def spin_rows(paragraphs, rates, seed, relations) -> list[dict]:
    """Pair rows of ``paragraphs`` spun at each rate, then the same paragraphs clean."""
    spun = [
        row
        for rate in rates
        for row in evaluation.spin_paragraphs(
            paragraphs, rate=rate, seed=seed, spinner=evaluation.restricted_spinner(rate, relations)
        )
    ]
    return spun + evaluation.clean_rows(paragraphs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument(
        "--rate", type=float, nargs="+", default=[0.3], help="spin rates, scored together"
    )
    parser.add_argument("--relations", nargs="+", help="spin with these thesaurus relations only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-paragraphs", type=int, default=500)
    parser.add_argument(
        "--fit-paragraphs", type=int, default=1000, help="tagger: paragraphs to fit the rule on"
    )
    parser.add_argument("--max-false-changes", type=float, default=0.3, help="per 100 tokens")
    parser.add_argument(
        "--choice-rule", action="store_true", help="tagger: also try a learned choice rule"
    )
    parser.add_argument("--write", action="store_true", help="save the choice in restore.json")
    args = parser.parse_args(argv)

    restorer = Restorer.from_pretrained(args.model)
    learns = restorer.format.name == "tagger" and args.fit_paragraphs > 0
    paragraphs = evaluation.select_paragraphs(
        args.corpus,
        "valid",
        max_paragraphs=args.max_paragraphs + (args.fit_paragraphs if learns else 0),
    )
    held = paragraphs[: args.max_paragraphs]
    rows = spin_rows(held, args.rate, args.seed, args.relations)
    texts = [r["spun"] for r in rows]
    originals = [r["original"] for r in rows]
    if learns:
        fit_rows = spin_rows(
            paragraphs[args.max_paragraphs :], args.rate, args.seed, args.relations
        )
    choices = {"none": None}
    if learns and args.choice_rule:
        examples = choice_examples(restorer, fit_rows)
        choices["learned"] = fit_choice_rule(examples)
        held_examples = choice_examples(restorer, rows)
        print(
            f"choice rule: {len(examples)} swaps; original ranked first on the held paragraphs "
            f"{choice_accuracy(None, held_examples):.4f} by the network, "
            f"{choice_accuracy(choices['learned'], held_examples):.4f} by the rule",
            flush=True,
        )
    settings = restorer.format.settings
    results, rules = [], {}
    for choice_name, choice_rule in choices.items():
        if learns:
            restorer.generator.engine.choice_rule = choice_rule
        if hasattr(restorer.generator, "cache"):
            restorer.generator.cache = {}
        edit_rules = {"none": None}
        if learns:
            features, labels = labelled_features(restorer, fit_rows)
            print(
                f"edit rule ({choice_name} choice rule): {len(labels)} proposals, "
                f"{int(labels.sum())} restore a swap",
                flush=True,
            )
            edit_rules["learned"] = fit_rule(features, labels)
            edit_rules["trees"] = fit_trees(features, labels)
        for name, rule in edit_rules.items():
            rules[(choice_name, name)] = rule
            restorer.format.settings = dataclasses.replace(settings, edit_rule=rule)
            for threshold in THRESHOLDS:
                restorer.guard = dataclasses.replace(restorer.guard, min_edit_confidence=threshold)
                restored = restorer.restore_batch(texts)
                s = metrics.score(texts, originals, restored, text_metrics=False)
                results.append(
                    {
                        "choice_rule": choice_name,
                        "rule": name,
                        "threshold": threshold,
                        **{k: round(s[k], 4) for k in ("precision", "recall", "f0.5")},
                        "false_changes_per_100_tokens": round(s["false_changes_per_100_tokens"], 4),
                    }
                )
                print(json.dumps(results[-1]), flush=True)
    best = choose(results, args.max_false_changes)
    print("chosen:", json.dumps(best))
    if args.write:
        saved = load_settings(args.model)
        guard = dataclasses.replace(saved.guard, min_edit_confidence=best["threshold"])
        rule = rules[(best["choice_rule"], best["rule"])]
        choice_rule = choices[best["choice_rule"]]
        save_settings(
            dataclasses.replace(saved, guard=guard, edit_rule=rule, choice_rule=choice_rule),
            args.model,
        )


if __name__ == "__main__":
    main()
