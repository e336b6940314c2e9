from pathlib import Path

import pytest

from training.config import (
    ConfigError,
    ExperimentConfig,
    build_config,
    config_hash,
    load_config,
    save_config,
)

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_and_nested_values():
    cfg = build_config(ExperimentConfig, {"spinner": {"rate": 0.4, "choice": "frequency"}})
    assert cfg.spinner.rate == 0.4 and cfg.spinner.choice == "frequency"
    assert cfg.synthesis == ExperimentConfig().synthesis


def test_cli_overrides_win_and_explicit_false_counts():
    cfg = build_config(
        ExperimentConfig,
        {"seed": 1, "synthesis": {"spins_per_unit": 3}},
        ["seed=5", "synthesis.spins_per_unit=1", "spinner.relation_weights.hypo=0"],
    )
    assert cfg.seed == 5 and cfg.synthesis.spins_per_unit == 1
    weights = cfg.spinner.relation_weights
    assert weights["hypo"] == 0.0 and weights["syn"] == 1.0  # a partial mapping updates


def test_float_written_without_a_dot_is_read_as_a_number():
    cfg = build_config(ExperimentConfig, {"spinner": {"rate": "3e-1"}})
    assert cfg.spinner.rate == pytest.approx(0.3)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"spinner": {"rat": 0.3}}, "spinner.rat"),
        ({"synthesis": {"spins_per_unit": "two"}}, "synthesis.spins_per_unit"),
        ({"synthesis": {"inputs": "a.jsonl"}}, "synthesis.inputs"),
        ({"spinner": {"rate": 1.5}}, "spinner.rate"),
        ({"spinner": {"choice": "random"}}, "spinner.choice"),
        ({"tokenizer": {"vocab_size": 10}}, "tokenizer.vocab_size"),
        ({"spinner": 3}, "spinner"),
    ],
)
def test_bad_values_name_their_dotted_path(data, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        build_config(ExperimentConfig, data)


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="key=value"):
        build_config(ExperimentConfig, {}, ["seed"])


def test_shipped_configs_load(tmp_path):
    for name in ("tiny", "default"):
        cfg = load_config(ROOT / "configs" / f"{name}.yaml")
        assert cfg.name == name and cfg.synthesis.inputs
    save_config(cfg, tmp_path / "round.yaml")
    again = load_config(tmp_path / "round.yaml")
    assert again == cfg and config_hash(again) == config_hash(cfg)


def test_unreadable_or_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("spinner: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(listy)
