"""The OSC onboarding descriptors (deploy/onboard/*/config-file.json + schema.json).

Checked as `dms_cli onboard` checks them: the onboarder replaces the `controls` property of its
descriptor schema (../shared/interop/osc/xapp-descriptor.schema.json) with our schema.json, checks
that combined schema as draft-07 and validates the descriptor against it. Then the services'
own loaders must accept what the onboarder accepted.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

from meta_controller.config import ControllerSettings
from tests.deploy.conftest import DEPLOY
from xapps.service.settings import CONFIG_FILE_ENV, SettingsError, controls_json_schema, load_settings

ONBOARD = DEPLOY / "onboard"
XAPPS = ("du-xapp", "meta-controller")
# RMR message type names (ric-plt-lib-rmr RIC_message_types.h) the DU xApp may use over RMR.
RMR_NAMES = {"RIC_INDICATION", "RIC_CONTROL_REQ", "RIC_CONTROL_ACK", "RIC_CONTROL_FAILURE"}


def descriptor(xapp: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((ONBOARD / xapp / "config-file.json").read_text())
    return doc


def onboarder_schema(osc_dir: Path, xapp: str) -> dict[str, Any]:
    """The schema `dms_cli onboard config-file.json schema.json` validates the descriptor with."""
    root: dict[str, Any] = json.loads((osc_dir / "xapp-descriptor.schema.json").read_text())
    root["properties"]["controls"] = json.loads((ONBOARD / xapp / "schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(root)
    return root


def ports(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in doc["messaging"]["ports"]}


def regenerate_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_regenerate", ONBOARD / "regenerate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("xapp", XAPPS)
def test_the_onboarder_accepts_the_descriptor(osc_dir: Path, xapp: str) -> None:
    jsonschema.validate(descriptor(xapp), onboarder_schema(osc_dir, xapp), cls=jsonschema.Draft7Validator)


@pytest.mark.parametrize(
    ("xapp", "path", "value"),
    [
        ("du-xapp", ("controls", "learning", "mdoe"), "online"),  # typo of a setting
        ("du-xapp", ("controls", "control", "control_timeout_s"), 0),  # out of range
        ("meta-controller", ("controls", "rounds", "min_update"), 3),
        ("du-xapp", ("containers", 0, "image", "registry"), "not a registry/path"),
    ],
)
def test_the_onboarder_rejects_bad_descriptors(
    osc_dir: Path, xapp: str, path: tuple[Any, ...], value: Any
) -> None:
    doc = copy.deepcopy(descriptor(xapp))
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, onboarder_schema(osc_dir, xapp), cls=jsonschema.Draft7Validator)


def test_generated_files_are_up_to_date() -> None:
    stale = [
        str(path.relative_to(DEPLOY.parent))
        for path, text in regenerate_module().generated_files().items()
        if path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"regenerate with: .venv/bin/python deploy/onboard/regenerate.py  ({stale})"


def test_du_schema_is_the_settings_controls_schema() -> None:
    assert json.loads((ONBOARD / "du-xapp" / "schema.json").read_text()) == controls_json_schema()


def test_du_xapp_reads_its_settings_from_the_mounted_descriptor() -> None:
    path = ONBOARD / "du-xapp" / "config-file.json"
    settings = load_settings(env={CONFIG_FILE_ENV: str(path)})
    doc, by_name = descriptor("du-xapp"), ports(descriptor("du-xapp"))
    assert settings.name == doc["name"]
    assert settings.e2.mode == "osc"
    assert (settings.e2.rmr_port, settings.e2.rmr_route_port) == (4560, 4561)
    assert settings.e2.rmr_port == by_name["rmrdata"]["port"]
    assert settings.http.port == by_name["http"]["port"] == 8080
    assert settings.http.host == "0.0.0.0"  # reachable by probes and Prometheus in a pod
    assert settings.log_level == "info"  # mdclog level 3
    assert settings.e2.submgr_url == doc["controls"]["subscription"]["url"]
    assert settings.state.sdl == "dbaas"


def test_du_xapp_refuses_a_descriptor_with_a_typo(tmp_path: Path) -> None:
    doc = copy.deepcopy(descriptor("du-xapp"))
    doc["controls"]["learning"]["mdoe"] = "online"
    bad = tmp_path / "config-file.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(SettingsError, match=r"learning\.mdoe"):
        load_settings(env={CONFIG_FILE_ENV: str(bad)})


def test_du_xapp_finds_the_meta_controller_by_its_osc_service_name() -> None:
    meta = descriptor("meta-controller")
    grpc_port = ports(meta)["grpc"]["port"]
    # xapp-std: service-<namespace>-<name>-<port name>, in namespace ricxapp
    expected = f"service-ricxapp-{meta['name']}-grpc.ricxapp:{grpc_port}"
    assert descriptor("du-xapp")["controls"]["meta"]["address"] == expected


def test_meta_controller_controls_are_its_settings() -> None:
    doc = descriptor("meta-controller")
    settings = ControllerSettings.model_validate(doc["controls"])
    by_name = ports(doc)
    assert settings.listen.endswith(f":{by_name['grpc']['port']}")
    assert settings.http is not None and settings.http.endswith(f":{by_name['http']['port']}")
    assert not settings.insecure and settings.tls_cert is not None  # TLS on the gRPC port
    assert settings.sdl == "dbaas"


@pytest.mark.parametrize("xapp", XAPPS)
def test_probes_and_scrape_annotations_point_at_the_http_port(xapp: str) -> None:
    doc = descriptor(xapp)
    http = ports(doc)["http"]["port"]
    assert doc["livenessProbe"]["httpGet"] == {"path": "/ric/v1/health/alive", "port": http}
    assert doc["readinessProbe"]["httpGet"] == {"path": "/ric/v1/health/ready", "port": http}
    assert doc["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(http),
        "prometheus.io/path": doc["metrics"]["url"],
    }
    assert doc["metrics"]["url"] == "/ric/v1/metrics"


def test_du_xapp_rmr_ports_carry_the_messages_it_uses() -> None:
    by_name = ports(descriptor("du-xapp"))
    assert (by_name["rmrdata"]["port"], by_name["rmrroute"]["port"]) == (4560, 4561)
    data = by_name["rmrdata"]
    assert set(data["rxMessages"]) | set(data["txMessages"]) <= RMR_NAMES
    assert data["txMessages"] == ["RIC_CONTROL_REQ"]  # subscriptions go over submgr REST, not RMR
    assert "RIC_INDICATION" in data["rxMessages"]


def test_meta_controller_speaks_grpc_only() -> None:
    assert set(ports(descriptor("meta-controller"))) == {"http", "grpc"}
