"""Settings: precedence (override > env > descriptor > default), the OSC descriptor, errors that
name field and source, run-time controls and the descriptor's controls schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from xapps.service.settings import (
    SettingsError,
    XappControls,
    XappSettings,
    controls_json_schema,
    load_settings,
    settings_reference,
)

OSC = Path(__file__).resolve().parents[3] / "shared" / "interop" / "osc"
OSC_EXAMPLE = OSC / "examples" / "config-file.json"
OSC_SCHEMA = OSC / "xapp-descriptor.schema.json"


def our_descriptor(**controls: Any) -> dict[str, Any]:
    """A descriptor as we would onboard the DU xApp."""
    return {
        "name": "metahrl-du",
        "version": "0.1.0",
        "containers": [
            {
                "name": "metahrl-du",
                "image": {"registry": "registry.local:5000", "name": "metahrl", "tag": "0.1.0"},
            }
        ],
        "messaging": {
            "ports": [
                {"name": "http", "container": "metahrl-du", "port": 8099, "description": "http service"},
                {
                    "name": "rmrroute",
                    "container": "metahrl-du",
                    "port": 4571,
                    "description": "rmr route port",
                },
                {
                    "name": "rmrdata",
                    "container": "metahrl-du",
                    "port": 4570,
                    "rxMessages": ["RIC_INDICATION", "RIC_CONTROL_ACK", "RIC_CONTROL_FAILURE"],
                    "txMessages": ["RIC_CONTROL_REQ"],
                    "policies": [],
                    "description": "rmr data port",
                },
            ]
        },
        "controls": {
            "du": [0, 1, 2],
            "e2": {"mode": "osc", "http_callback_host": "service-ricxapp-metahrl-du-http.ricxapp"},
            "control": {"kpm_period_ms": 20, "high_period_steps": 5},
            "learning": {"mode": "online", "explore": True},
            "state": {"sdl": "dbaas", "checkpoint_interval_s": 30},
            **controls,
        },
    }


def write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "config-file.json"
    path.write_text(json.dumps(doc))
    return path


# ---- defaults and precedence --------------------------------------------------------------------


def test_defaults_without_any_source() -> None:
    s = load_settings(env={})
    assert s.du == "all" and s.e2.mode == "direct" and s.e2.listen_port == 36422
    assert s.control.kpm_period_ms == 10 and s.control.control_timeout_s == 0.5
    assert s.state.sdl == "memory" and s.state.sdl_namespace == "metahrl-du"
    assert s.meta.address is None and s.http.host == "127.0.0.1" and s.http.port == 8080
    assert s.init_kind == "scratch"


def test_constructing_the_model_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METAHRL_XAPP_E2__MODE", "osc")
    assert XappSettings().e2.mode == "direct"
    assert load_settings().e2.mode == "osc"  # load_settings defaults to os.environ


def test_precedence_override_env_descriptor_default(tmp_path: Path) -> None:
    path = write(tmp_path, our_descriptor())  # kpm_period_ms 20
    env = {"CONFIG_FILE": str(path), "METAHRL_XAPP_CONTROL__KPM_PERIOD_MS": "30"}
    assert load_settings({"control.kpm_period_ms": 40}, env).control.kpm_period_ms == 40
    assert load_settings({"control": {"kpm_period_ms": 50}}, env).control.kpm_period_ms == 50
    assert load_settings(None, env).control.kpm_period_ms == 30
    assert load_settings(None, {"CONFIG_FILE": str(path)}).control.kpm_period_ms == 20
    assert load_settings(None, {}).control.kpm_period_ms == 10


def test_layers_merge_per_field_not_per_section(tmp_path: Path) -> None:
    path = write(tmp_path, our_descriptor())
    env = {"CONFIG_FILE": str(path), "METAHRL_XAPP_CONTROL__HIGH_PERIOD_STEPS": "7"}
    s = load_settings({"control.control_timeout_s": 0.25}, env)
    assert (s.control.kpm_period_ms, s.control.high_period_steps, s.control.control_timeout_s) == (
        20,
        7,
        0.25,
    )
    assert s.e2.mode == "osc"  # untouched descriptor fields survive


def test_environment_values_are_parsed_not_truth_tested() -> None:
    s = load_settings(env={"METAHRL_XAPP_LEARNING__EXPLORE": "false", "METAHRL_XAPP_META__TLS": "0"})
    assert s.learning.explore is False and s.meta.tls is False
    s = load_settings(env={"METAHRL_XAPP_LEARNING__EXPLORE": "true"})
    assert s.learning.explore is True


def test_a_section_may_come_whole_as_json() -> None:
    s = load_settings(env={"METAHRL_XAPP_E2": '{"mode": "osc", "rmr_port": 4600}'})
    assert (s.e2.mode, s.e2.rmr_port) == ("osc", 4600)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("all", "all"), ("ALL", "all"), ("0,2", [0, 2]), ("[3, 1]", [1, 3]), (4, [4]), ([2, 0], [0, 2])],
)
def test_du_selection(given: Any, expected: Any) -> None:
    assert load_settings({"du": given}, env={}).du == expected


@pytest.mark.parametrize("given", ["x", "-1", "1,1", "[1,", "", [True], 1.5])
def test_bad_du_selection_names_the_field(given: Any) -> None:
    with pytest.raises(SettingsError, match=r"du: .*\(from override du\)"):
        load_settings({"du": given}, env={})


def test_secret_token_is_not_shown() -> None:
    s = load_settings(env={"METAHRL_XAPP_META__TOKEN": "s3cret", "METAHRL_XAPP_META__ADDRESS": "meta:50051"})
    assert s.meta.token is not None and s.meta.token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s) and "s3cret" not in s.model_dump_json()


# ---- the OSC descriptor -------------------------------------------------------------------------


def test_osc_example_descriptor() -> None:
    s = load_settings(env={"CONFIG_FILE": str(OSC_EXAMPLE)})
    assert (s.e2.rmr_port, s.e2.rmr_route_port, s.http.port) == (4560, 4561, 8080)
    assert s.log_level == "info"  # logger.level 3
    assert s.e2.submgr_url == "http://192.168.1.122:9000/"  # subscription.url
    assert s.e2.http_callback_host == "192.168.1.122"  # subscription.clientEndpoint


def onboarder_schema() -> dict[str, Any]:
    """The onboarder's descriptor schema with its `controls` placeholder replaced by our
    schema.json, as ``dms_cli onboard config-file.json schema.json`` does."""
    schema = json.loads(OSC_SCHEMA.read_text())
    assert schema["properties"]["controls"] == {"required": ["__empty_control_section__"]}
    schema["properties"]["controls"] = controls_json_schema()
    return schema


def test_our_descriptor_is_a_valid_osc_descriptor_and_loads(tmp_path: Path) -> None:
    doc = our_descriptor()
    jsonschema.validate(doc, onboarder_schema())
    s = load_settings(env={}, descriptor=write(tmp_path, doc))
    assert s.du == [0, 1, 2] and s.e2.mode == "osc"
    assert (s.e2.rmr_port, s.e2.rmr_route_port, s.http.port) == (4570, 4571, 8099)
    assert s.learning.mode == "online" and s.learning.explore is True
    assert s.state.sdl == "dbaas" and s.state.checkpoint_interval_s == 30


def test_descriptor_port_conflicting_with_controls_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, our_descriptor(e2={"rmr_port": 4000}))
    with pytest.raises(
        SettingsError, match=r"messaging\.ports\[rmrdata\]\.port = 4570 conflicts with controls\.e2"
    ):
        load_settings(env={"CONFIG_FILE": str(path)})


def test_bad_descriptor_value_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, our_descriptor(control={"kpm_period_ms": 0}))
    with pytest.raises(SettingsError) as err:
        load_settings(env={"CONFIG_FILE": str(path)})
    assert "control.kpm_period_ms" in str(err.value) and f"descriptor {path} controls.control" in str(
        err.value
    )


def test_typo_in_descriptor_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, our_descriptor(lerning={"mode": "online"}))
    with pytest.raises(SettingsError, match=r"lerning: Extra inputs are not permitted \(from descriptor"):
        load_settings(env={"CONFIG_FILE": str(path)})


def test_descriptor_port_out_of_range_names_the_port(tmp_path: Path) -> None:
    doc = our_descriptor()
    doc["messaging"]["ports"][2]["port"] = 70000
    with pytest.raises(SettingsError, match=r"e2\.rmr_port: .*messaging\.ports\[rmrdata\]\.port"):
        load_settings(env={}, descriptor=write(tmp_path, doc))


def test_missing_or_broken_descriptor(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="CONFIG_FILE="):
        load_settings(env={"CONFIG_FILE": str(tmp_path / "absent.json")})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SettingsError, match="not JSON"):
        load_settings(env={"CONFIG_FILE": str(tmp_path / "bad.json")})


# ---- errors name field and source ---------------------------------------------------------------


def test_env_typo_in_a_section_names_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"e2\.mood: Extra inputs .*METAHRL_XAPP_E2__MOOD"):
        load_settings(env={"METAHRL_XAPP_E2__MOOD": "osc"})


def test_unknown_top_level_env_setting() -> None:
    with pytest.raises(SettingsError, match="METAHRL_XAPP_LEARNIN__MODE: unknown setting 'learnin'"):
        load_settings(env={"METAHRL_XAPP_LEARNIN__MODE": "online"})


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"e2\.mode: .*'direct' or 'osc' \(from METAHRL_XAPP_E2__MODE\)"):
        load_settings(env={"METAHRL_XAPP_E2__MODE": "rmr"})


def test_override_beats_a_bad_env_value_and_errors_are_all_listed() -> None:
    env = {"METAHRL_XAPP_E2__MODE": "rmr"}
    assert load_settings({"e2.mode": "osc"}, env).e2.mode == "osc"
    with pytest.raises(SettingsError) as err:
        load_settings({"http.port": 99999, "control.control_timeout_s": -1}, env)
    text = str(err.value)
    assert "http.port" in text and "override http.port" in text
    assert "control.control_timeout_s" in text and "METAHRL_XAPP_E2__MODE" in text


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        ({"init": "meta"}, "init is 'meta' but meta.address is not set"),
        ({"init": "/nonexistent/ckpt"}, "does not exist"),
        ({"meta.address": "no-port"}, r"meta\.address: .*HOST:PORT"),
        ({"meta.ca_file": "/tmp/ca.pem"}, "tls is false"),
        ({"meta.tls": True, "meta.cert_file": "/tmp/c.pem"}, "cert_file and key_file go together"),
        ({"state.sdl": "mysql://x"}, r"state\.sdl: .*redis://"),
        ({"state.sdl_namespace": "a b"}, r"state\.sdl_namespace"),
        ({"name": "Bad_Name"}, r"name: .*pattern"),
        ({"e2.transport": "udp"}, r"e2\.transport"),
    ],
)
def test_invalid_settings_name_the_field(overrides: dict[str, Any], pattern: str) -> None:
    with pytest.raises(SettingsError, match=pattern):
        load_settings(overrides, env={})


def test_init_checkpoint_path(tmp_path: Path) -> None:
    ckpt = tmp_path / "run"
    ckpt.mkdir()
    s = load_settings({"init": str(ckpt)}, env={})
    assert s.init_kind == "checkpoint"
    s = load_settings({"init": "meta", "meta.address": "meta.ricxapp:50051"}, env={})
    assert s.init_kind == "meta"


# ---- run-time controls and the controls schema --------------------------------------------------


def test_controls_round_trip_through_settings() -> None:
    s = load_settings(env={})
    controls = s.controls()
    assert controls.learning.mode == "off" and controls.control.high_period_steps == 10
    new = controls.model_copy(
        update={"learning": controls.learning.model_copy(update={"mode": "online", "explore": True})}
    )
    s2 = s.with_controls(new)
    assert s2.learning.mode == "online" and s2.learning.explore is True
    assert s2.controls() == new and s.learning.mode == "off"  # the original is unchanged
    assert s2.learning.updates_per_step == s.learning.updates_per_step


def test_controls_require_every_field_and_same_constraints() -> None:
    full = load_settings(env={}).controls().model_dump()
    XappControls.model_validate(full)
    with pytest.raises(ValidationError):
        XappControls.model_validate({"learning": full["learning"]})
    bad = json.loads(json.dumps(full))
    bad["control"]["control_timeout_s"] = 0
    with pytest.raises(ValidationError, match="control_timeout_s"):
        XappControls.model_validate(bad)


def test_controls_schema_validates_descriptor_controls() -> None:
    schema = controls_json_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    assert "$ref" not in json.dumps(schema)
    jsonschema.validate(json.loads(OSC_EXAMPLE.read_text())["controls"], schema)
    jsonschema.validate(our_descriptor()["controls"], schema)


@pytest.mark.parametrize(
    "controls",
    [
        {"lerning": {}},
        {"e2": {"mode": "rmr"}},
        {"control": {"kpm_period_ms": 0}},
        {"learning": {"explore": "maybe"}},
    ],
)
def test_controls_schema_rejects_what_settings_reject(controls: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(controls, controls_json_schema())
    doc = our_descriptor()
    doc["controls"] = controls
    with pytest.raises(SettingsError):
        load_settings(env={}, descriptor=write(tmp_path, doc))


def test_every_setting_is_documented_and_reachable_by_its_env_name() -> None:
    docs = settings_reference()
    names = {d.name for d in docs}
    assert {
        "du",
        "e2.mode",
        "control.kpm_period_ms",
        "state.sdl_namespace",
        "meta.token",
        "http.port",
    } <= names
    for doc in docs:
        assert doc.description, f"{doc.name} has no description"
        assert doc.env == "METAHRL_XAPP_" + doc.name.replace(".", "__").upper()
    probes = {"control.kpm_period_ms": ("25", 25), "e2.rmr_port": ("4999", 4999), "name": ("du-x", "du-x")}
    for name, (text, expected) in probes.items():
        env = next(d.env for d in docs if d.name == name)
        got: Any = load_settings(env={env: text})
        for part in name.split("."):
            got = getattr(got, part)
        assert got == expected


def test_empty_env_is_unset_and_null_clears(tmp_path: Path) -> None:
    path = write(tmp_path, our_descriptor(meta={"address": "meta:50051"}))
    env = {"CONFIG_FILE": str(path), "METAHRL_XAPP_E2__MODE": "", "METAHRL_XAPP_STATE__CHECKPOINT_DIR": ""}
    s = load_settings(env=env)
    assert s.e2.mode == "osc" and s.state.checkpoint_dir is None and s.meta.address == "meta:50051"
    s = load_settings(env={**env, "METAHRL_XAPP_META__ADDRESS": "null"})
    assert s.meta.address is None
