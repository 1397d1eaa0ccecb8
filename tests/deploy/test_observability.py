"""Prometheus and Grafana files (deploy/prometheus, deploy/grafana), checked by the real tools:
`promtool check config|rules`, `promtool test rules` (alert unit tests), every PromQL expression
of the dashboard and the rules parsed by promql-parser and naming a metric (and labels) the
services' registries really expose, and the dashboard's structure and provisioning."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DEPLOY
from tests.deploy.promql import TARGET_LABELS, exposed_samples, selectors

PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "metahrl.json"


def promtool() -> str:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("promtool not found: apt-get install prometheus (Debian) provides it")
    return tool


def run_promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return doc


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in panels() for t in p["targets"]]


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((PROMETHEUS / "rules" / "metahrl.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def recorded() -> set[str]:
    return {r["record"] for r in rules() if "record" in r}


# ---- promtool -----------------------------------------------------------------------------------


def test_promtool_accepts_the_compose_config_and_its_rules() -> None:
    result = run_promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_accepts_the_kubernetes_config() -> None:
    result = run_promtool("check", "config", "prometheus-kubernetes.yml")
    output = result.stdout + result.stderr
    if "kubernetes_sd_configs not found" in output:
        pytest.skip(
            "this promtool is built without Kubernetes discovery (Debian's is); checked by upstream builds"
        )
    assert result.returncode == 0, output


def test_promtool_accepts_the_rules() -> None:
    result = run_promtool("check", "rules", "rules/metahrl.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_their_unit_tests() -> None:
    result = run_promtool("test", "rules", "rules/metahrl.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    """The check above can fail: a rule with a PromQL syntax error is refused."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "a:b", "expr": "sum(rate(x[5m])"}]}]})
    )
    result = run_promtool("check", "rules", str(bad))
    assert result.returncode != 0


# ---- every expression names what the services expose --------------------------------------------


@pytest.fixture(scope="module")
def samples() -> dict[str, set[str]]:
    return exposed_samples()


@pytest.mark.parametrize("expr", dashboard_exprs() + [r["expr"] for r in rules()])
def test_expressions_select_metrics_and_labels_the_services_expose(
    expr: str, samples: dict[str, set[str]]
) -> None:
    found = selectors(expr)
    assert found, f"no metric in {expr!r}"
    for name, labels in found:
        if name in recorded():
            continue  # a recording rule of ours (checked as a rule expression itself)
        assert name in samples, f"{name!r} (in {expr!r}) is not exposed; known: {sorted(samples)}"
        unknown = labels - samples[name] - TARGET_LABELS
        assert not unknown, f"{name!r} has no label(s) {unknown} (it has {sorted(samples[name])})"


def test_the_metric_check_can_fail(samples: dict[str, set[str]]) -> None:
    assert selectors('rate(metahrl_du_controls_total{outcome="x"}[5m])') == [
        ("metahrl_du_controls_total", {"outcome"})
    ]
    assert "metahrl_du_slice_qos" not in samples  # a misspelt name would not pass
    assert "slice" not in samples["metahrl_du_reward"]


# ---- the dashboard ------------------------------------------------------------------------------

WANTED = {  # what the operators asked to see → a metric that must appear in some panel
    "slice QoS": "metahrl_du_slice_qos_ratio",
    "throughput": "metahrl_du_slice_throughput_bytes_per_second",
    "latency": "metahrl_du_slice_latency_seconds",
    "PRB share": "metahrl_du_slice_prb_share_ratio",
    "reward": "metahrl_du_reward",
    "meta-version": "metahrl_meta_version",
    "Softmin weights": "metahrl_meta_task_weight",
    "round duration": "metahrl_meta_round_duration_seconds_bucket",
    "E2 latency": "metahrl_du_decision_seconds_bucket",
    "control outcomes": "metahrl_du_controls_total",
}


def test_dashboard_shows_what_operators_asked_for() -> None:
    shown = {name for expr in dashboard_exprs() for name, _ in selectors(expr)}
    missing = {what: metric for what, metric in WANTED.items() if metric not in shown}
    assert not missing


def test_dashboard_structure() -> None:
    doc = dashboard()
    assert doc["uid"] == "metahrl-overview" and doc["title"]
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    datasource_uid = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]["uid"]
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": datasource_uid}, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource_uid
    boxes = [
        (p["gridPos"]["x"], p["gridPos"]["y"], p["gridPos"]["w"], p["gridPos"]["h"]) for p in doc["panels"]
    ]
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1, "panels overlap"
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert set(variables) == {"du", "slice"}
    for v in variables.values():
        assert v["datasource"]["uid"] == datasource_uid
        (name, _), *_ = selectors(v["definition"].removeprefix("label_values(").split(",")[0])
        assert name == "metahrl_du_slice_qos_ratio"


def test_dashboard_provider_points_where_compose_mounts_the_dashboards() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "metahrl.yml").read_text())
    (entry,) = provider["providers"]
    assert provider["apiVersion"] == 1 and entry["type"] == "file"
    compose = yaml.safe_load((DEPLOY / "compose" / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in grafana["volumes"]}
    source = mounts[entry["options"]["path"]]
    assert (DEPLOY / "compose" / source).resolve() == DASHBOARD.parent.resolve()
