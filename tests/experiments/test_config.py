"""Training configs: bundled files load, files override single fields, bad input names the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.config import ConfigError, TrainConfig, bundled_configs, load_train_config


def test_bundled_configs_load() -> None:
    assert {"paper", "tiny"} <= set(bundled_configs())
    paper = load_train_config("paper")
    assert paper.env.low_action == "share"
    assert tuple(paper.low.hidden_sizes) == (256, 512, 512)  # the paper's networks
    assert load_train_config("tiny").high.hidden_sizes == (64, 64)
    sliceqos = load_train_config("paper-sliceqos")  # differs from paper-lowlearn in the slice reward only
    lowlearn = load_train_config("paper-lowlearn")
    assert (sliceqos.env.low_reward, sliceqos.low_reward_qos_weight) == ("slice-qos", 0.0)
    assert sliceqos.low == lowlearn.low and sliceqos.high == lowlearn.high


def test_defaults_are_documented() -> None:
    for name, field in TrainConfig.model_fields.items():
        assert field.description, name
    assert load_train_config(None) == TrainConfig()


def test_partial_override_keeps_other_defaults(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("steps: 50\nhigh: {gamma: 0.5}\nenv: {episode_steps: 20}\n")
    cfg = load_train_config(f)
    assert cfg.steps == 50 and cfg.high.gamma == 0.5 and cfg.env.episode_steps == 20
    assert cfg.high.hidden_sizes == TrainConfig().high.hidden_sizes
    assert cfg.env.low_action == "share"  # the trainer's default survives a partial env block


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("steps: -1\n", "steps"),
        ("high: {gamma: 2}\n", "high.gamma"),
        ("bogus: 1\n", "bogus"),
        ("env: {low_action: maybe}\n", "env.low_action"),
    ],
)
def test_bad_config_names_the_field(tmp_path: Path, text: str, field: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=f"field '{field}'"):
        load_train_config(f)


def test_unknown_config_name() -> None:
    with pytest.raises(ConfigError, match="unknown config"):
        load_train_config("no-such-config")


def test_fingerprint_ignores_only_bookkeeping() -> None:
    a = TrainConfig()
    assert a.fingerprint() == a.model_copy(update={"steps": 7, "threads": 2}).fingerprint()
    assert a.fingerprint() != TrainConfig(update_every=3).fingerprint()
