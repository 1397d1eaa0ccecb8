"""Scenario loading: bundled files, library tasks, and errors that name the field and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2sim.scenario import ScenarioError, bundled_scenarios, load_scenario, scenario_from_dict


def test_every_bundled_scenario_loads() -> None:
    names = bundled_scenarios()
    for required in (
        "paper",
        "stadium",
        "conference",
        "airport",
        "residential",
        "traffic_spike",
        "du_off_on",
        "large",
    ):
        assert required in names
    for name in names:
        sc = load_scenario(name)
        assert len(sc.assignment) == sc.n_du


def test_paper_defaults_are_table_1() -> None:
    sc = load_scenario("paper")
    r = sc.radio
    assert (sc.n_du, r.n_rbs, r.rb_bandwidth_hz, r.tx_power_dbm, r.noise_psd_dbm_hz) == (
        7,
        100,
        200e3,
        56.0,
        -173.0,
    )
    t = sc.task_of(0)
    assert (t.embb.n_ues, t.mmtc.n_ues, t.urllc.n_ues) == (10, 12, 8)
    assert t.speed_mps == (10.0, 20.0)


def test_large_is_30_dus_by_200_ues() -> None:
    sc = load_scenario("large")
    assert sc.n_du == 30 and sc.task_of(29).n_ues == 200


def test_library_base_and_overrides() -> None:
    sc = scenario_from_dict(
        {
            "name": "x",
            "n_du": 2,
            "tasks": {"s": {"base": "stadium", "urllc": {"n_ues": 1}}, "d": {}},
            "assignment": ["s", "d"],
        }
    )
    assert sc.task_of(0).embb.n_ues == 20  # from the library
    assert sc.task_of(0).urllc.n_ues == 1  # overridden
    assert sc.task_of(1).embb.n_ues == 10  # paper default


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"tasks": {"d": {"embb": {"n_ues": -1}}}}, "tasks.d.embb.n_ues"),
        ({"tasks": {"d": {"embb": {"bogus": 1}}}}, "tasks.d.embb.bogus"),
        ({"assignment": ["d", "nope"], "n_du": 2}, "unknown task"),
        ({"assignment": ["d"], "n_du": 2}, "assignment has 1 entries but n_du = 2"),
        ({"radio": {"fading": "scheduled", "coherence_ttis": 5}}, "coherence_ttis = 1"),
        ({"radio": {"n_rbs": 200}}, "exceeds total_bandwidth_hz"),
        ({"tasks": {"d": {"base": "atlantis"}}}, "tasks.d.base"),
        ({"events": [{"at_ms": 5, "kind": "du_off", "dus": [9]}]}, "outside 0..6"),
        ({"events": [{"at_ms": 5, "kind": "traffic_scale", "dus": "all"}]}, "factor"),
        ({"tasks": {"d": {"embb": {"rate_mbps": [9, 1]}}}}, "rate_mbps lo > hi"),
        ({"n_du": "seven"}, "n_du"),
    ],
)
def test_invalid_scenarios_name_field_and_reason(data: dict, needle: str) -> None:
    base = {"name": "bad", "tasks": {"d": {}}}
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict({**base, **data}, "bad.yaml")
    assert needle in str(err.value)
    assert "bad.yaml" in str(err.value)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "missing.yaml")
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="invalid YAML"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="unknown scenario 'nowhere'"):
        load_scenario("nowhere")
    ok = tmp_path / "mine.yaml"
    ok.write_text("name: mine\nn_du: 1\ntasks: {solo: {base: residential}}\n")
    assert load_scenario(ok).task_of(0).name == "solo"
