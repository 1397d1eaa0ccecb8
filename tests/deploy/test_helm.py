"""The Helm charts under deploy/helm, rendered and linted by a real Helm engine (helm-python-sdk,
Helm v4 as a library), every document validated against the Kubernetes schemas (strict), values
files validated against values.schema.json, and the DU/meta charts compared with what the OSC
onboarder's xapp-std template generates from the same descriptor."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from meta_controller import cli as meta_cli
from meta_controller.config import ControllerSettings
from tests.deploy.conftest import DEPLOY
from tests.deploy.helm import HelmEngine, Rendered
from tests.deploy.test_descriptors import onboarder_schema
from xapps.service.settings import CONFIG_FILE_ENV, load_settings

HELM = DEPLOY / "helm"
NAMESPACE = {"metahrl-du": "ricxapp", "metahrl-meta": "ricxapp", "metahrl-e2sim": "e2sim"}
K8S_VERSIONS = ("1.28.0", "1.37.0")  # an OSC-era cluster and the newest schemas bundled
VALUE_FILES = sorted(HELM.glob("*/ci/*.yaml"))


def chart_of(values_file: Path) -> str:
    return values_file.parent.parent.name


def render(
    helm: HelmEngine, chart: str, values: dict[str, Any] | None = None, release: str | None = None
) -> Rendered:
    return helm.render(HELM / chart, values, release=release or chart, namespace=NAMESPACE[chart])


def load_values(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    return data


def descriptor_of(rendered: Rendered) -> dict[str, Any]:
    (config,) = [c for c in rendered.of_kind("ConfigMap") if c["metadata"]["name"].endswith("-appconfig")]
    doc: dict[str, Any] = json.loads(config["data"]["config-file.json"])
    return doc


def appenv_of(rendered: Rendered) -> dict[str, str]:
    (env,) = [c for c in rendered.of_kind("ConfigMap") if c["metadata"]["name"].endswith("-appenv")]
    data: dict[str, str] = env["data"]
    return data


def container(rendered: Rendered) -> dict[str, Any]:
    (c,) = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(c)


def service_ports(service: dict[str, Any]) -> set[tuple[str, int, str]]:
    return {(p["name"], int(p["port"]), str(p["targetPort"])) for p in service["spec"].get("ports") or []}


def write_descriptor(rendered: Rendered, tmp_path: Path) -> Path:
    path = tmp_path / "config-file.json"
    path.write_text(json.dumps(descriptor_of(rendered)))
    return path


# ---- every chart, every values file ----------------------------------------------------------


@pytest.mark.parametrize("chart", sorted(NAMESPACE))
def test_chart_lints_clean(helm: HelmEngine, chart: str) -> None:
    report = helm.lint(HELM / chart, namespace=NAMESPACE[chart])
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert report["total_charts_linted"] == 1 and not problems, problems


@pytest.mark.parametrize("values_file", VALUE_FILES, ids=lambda p: f"{chart_of(p)}/{p.name}")
def test_values_files_match_the_values_schema(helm: HelmEngine, values_file: Path) -> None:
    chart = chart_of(values_file)
    schema = json.loads((HELM / chart / "values.schema.json").read_text())
    values = load_values(values_file)
    jsonschema.validate(values, schema, cls=jsonschema.Draft7Validator)
    helm.validate_values(HELM / chart, values)  # the engine's own check, as at install time


@pytest.mark.parametrize(
    "case",
    [(chart, None) for chart in sorted(NAMESPACE)] + [(chart_of(p), p) for p in VALUE_FILES],
    ids=lambda c: f"{c[0]}/{c[1].name if c[1] else 'defaults'}",
)
def test_rendered_documents_are_valid_kubernetes(helm: HelmEngine, case: tuple[str, Path | None]) -> None:
    chart, values_file = case
    values = load_values(values_file) if values_file else None
    rendered = render(helm, chart, values, release=(values or {}).get("name") or chart)
    assert rendered.docs
    for doc in rendered.docs:
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{doc['kind']} {doc['metadata']['name']} (k8s {version}): {exc.message}")
    for pod in (d["spec"]["template"]["spec"] for d in rendered.of_kind("Deployment")):
        assert pod["securityContext"]["runAsNonRoot"] is True
        for c in pod["containers"]:
            ctx = c["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True and ctx["allowPrivilegeEscalation"] is False
            assert ctx["capabilities"]["drop"] == ["ALL"]
            assert c["resources"]["requests"] and c["resources"]["limits"]


@pytest.mark.parametrize(
    ("chart", "values", "message"),
    [
        ("metahrl-du", {"imag": {}}, "imag"),  # a typo at the top
        ("metahrl-du", {"controls": {"learning": {"mdoe": "online"}}}, "mdoe"),  # …inside controls
        ("metahrl-du", {"controls": {"control": {"control_timeout_s": -1}}}, "control_timeout_s"),
        ("metahrl-meta", {"controls": {"roundz": {}}}, "roundz"),
        ("metahrl-meta", {"init": {"claim": "theta"}}, "claim"),
        ("metahrl-e2sim", {"e2sim": {"ric": "no-port", "transport": "tcp", "scenario": "paper"}}, "ric"),
    ],
)
def test_values_typos_fail_the_install(
    helm: HelmEngine, chart: str, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.values_error, match=message):
        helm.validate_values(HELM / chart, values)
    with pytest.raises(helm.values_error, match=message):
        render(helm, chart, values)


# ---- DU xApp ------------------------------------------------------------------------------------


def test_du_pod_runs_with_the_descriptor_it_mounts(helm: HelmEngine, tmp_path: Path) -> None:
    rendered = render(helm, "metahrl-du")
    env, c = appenv_of(rendered), container(rendered)
    pod = rendered.one("Deployment")["spec"]["template"]["spec"]
    config_file = Path(env[CONFIG_FILE_ENV])
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == str(config_file.parent)]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    appconfig = rendered.one("ConfigMap", volume["configMap"]["name"])
    assert config_file.name in appconfig["data"]
    assert {r["configMapRef"]["name"] for r in c["envFrom"]} == {
        rendered.one("ConfigMap", "configmap-ricxapp-metahrl-du-appenv")["metadata"]["name"],
        "dbaas-appconfig",
    }
    assert env["DBAAS_SERVICE_HOST"] == "service-ricplt-dbaas-tcp.ricplt.svc.cluster.local"
    assert env["DBAAS_SERVICE_PORT"] == "6379"
    settings = load_settings(env={**env, CONFIG_FILE_ENV: str(write_descriptor(rendered, tmp_path))})
    assert settings.state.sdl == "dbaas" and settings.e2.mode == "osc"
    assert settings.e2.http_callback_host == "service-ricxapp-metahrl-du-http.ricxapp"
    assert c["livenessProbe"]["httpGet"] == {"path": "/ric/v1/health/alive", "port": settings.http.port}
    assert c["readinessProbe"]["httpGet"] == {"path": "/ric/v1/health/ready", "port": settings.http.port}
    assert {(p["name"], p["containerPort"]) for p in c["ports"]} == {
        ("http", settings.http.port),
        ("rmrdata", settings.e2.rmr_port),
        ("rmrroute", settings.e2.rmr_route_port),
    }
    assert pod["hostname"] == "metahrl-du"
    annotations = rendered.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(settings.http.port)
    assert annotations["prometheus.io/path"] == "/ric/v1/metrics"


@pytest.mark.parametrize("values_file", [None, HELM / "metahrl-du" / "ci" / "direct-e2-values.yaml"])
def test_du_services_reach_a_pod_that_is_not_ready_yet(helm: HelmEngine, values_file: Path | None) -> None:
    """Readiness waits for E2 connected + subscribed, and that needs E2 nodes, RMR indications and
    submgr notifications to reach the pod first: its Services publish not-ready addresses."""
    rendered = render(helm, "metahrl-du", load_values(values_file) if values_file else None)
    services = rendered.of_kind("Service")
    assert services and all(s["spec"]["publishNotReadyAddresses"] is True for s in services)


def test_du_release_per_du_is_named_after_its_instance(
    helm: HelmEngine, osc_dir: Path, tmp_path: Path
) -> None:
    values = load_values(HELM / "metahrl-du" / "ci" / "per-du-values.yaml")
    rendered = render(helm, "metahrl-du", values, release="metahrl-du-3")
    # the descriptor the pod mounts is still one the onboarder accepts
    schema = onboarder_schema(osc_dir, "du-xapp")
    jsonschema.validate(descriptor_of(rendered), schema, cls=jsonschema.Draft7Validator)
    assert rendered.names("Service") == {
        "service-ricxapp-metahrl-du-3-rmr",
        "service-ricxapp-metahrl-du-3-http",
    }
    assert rendered.one("Deployment")["metadata"]["name"] == "ricxapp-metahrl-du-3"
    settings = load_settings(env={CONFIG_FILE_ENV: str(write_descriptor(rendered, tmp_path))})
    assert settings.du == [3] and settings.name == "metahrl-du-3"
    assert settings.e2.http_callback_host == "service-ricxapp-metahrl-du-3-http.ricxapp"
    env = {e["name"]: e for e in container(rendered)["env"]}
    assert set(env) == {"METAHRL_XAPP_META__TOKEN", "METAHRL_XAPP_HTTP__TOKEN_FILE"}
    token = env["METAHRL_XAPP_META__TOKEN"]
    assert token["valueFrom"]["secretKeyRef"] == {"name": "metahrl-du-3-token", "key": "token"}


def test_du_overrides_to_false_and_null_take_effect(helm: HelmEngine, tmp_path: Path) -> None:
    """sprig's mergeOverwrite would skip false/null overrides; the chart's own merge must not."""
    values = load_values(HELM / "metahrl-du" / "ci" / "direct-e2-values.yaml")
    rendered = render(helm, "metahrl-du", values, release="metahrl-du-direct")
    settings = load_settings(env={CONFIG_FILE_ENV: str(write_descriptor(rendered, tmp_path))})
    assert settings.meta.tls is False and settings.meta.ca_file is None
    mounts = {m["mountPath"] for m in container(rendered)["volumeMounts"]}
    assert "/etc/metahrl/tls" not in mounts
    assert settings.e2.mode == "direct" and settings.e2.listen_host == "0.0.0.0"
    e2 = rendered.one("Service", "service-ricxapp-metahrl-du-direct-e2")
    assert service_ports(e2) == {("e2", settings.e2.listen_port, "e2")}
    assert ("e2", settings.e2.listen_port) in {
        (p["name"], p["containerPort"]) for p in container(rendered)["ports"]
    }
    refs = {r["configMapRef"]["name"] for r in container(rendered)["envFrom"]}
    assert "dbaas-appconfig" not in refs


# ---- meta-controller ----------------------------------------------------------------------------


def meta_settings_from_args(args: list[str]) -> ControllerSettings:
    assert args[0] == "meta-controller"
    parser = argparse.ArgumentParser()
    meta_cli.add_arguments(parser)
    return meta_cli.settings_of(parser.parse_args(args[1:]))


@pytest.mark.parametrize("values_file", [None, HELM / "metahrl-meta" / "ci" / "pvc-values.yaml"])
def test_meta_args_are_the_descriptor_controls(helm: HelmEngine, values_file: Path | None) -> None:
    rendered = render(helm, "metahrl-meta", load_values(values_file) if values_file else None)
    from_args = meta_settings_from_args(container(rendered)["args"])
    from_descriptor = ControllerSettings.model_validate(descriptor_of(rendered)["controls"])
    assert from_args == from_descriptor
    if values_file:
        assert from_args.rounds.min_updates == 7 and from_args.meta.temperature == 0.5


def test_meta_pod_mounts_tls_tokens_and_init_where_the_settings_point(helm: HelmEngine) -> None:
    rendered = render(helm, "metahrl-meta")
    settings = ControllerSettings.model_validate(descriptor_of(rendered)["controls"])
    mounts = {m["mountPath"] for m in container(rendered)["volumeMounts"]}
    for path in (settings.tls_cert, settings.tls_key, settings.tokens, settings.init):
        assert path is not None and str(path.parent) in mounts, path
    assert rendered.names("Service") == {
        "service-ricxapp-metahrl-meta-http",
        "service-ricxapp-metahrl-meta-grpc",
    }
    grpc = rendered.one("Service", "service-ricxapp-metahrl-meta-grpc")
    assert service_ports(grpc) == {("grpc", 50051, "grpc")}
    assert appenv_of(rendered)["DBAAS_SERVICE_HOST"]


def test_meta_requires_mutual_tls_by_default(helm: HelmEngine) -> None:
    rendered = render(helm, "metahrl-meta")
    settings = meta_settings_from_args(container(rendered)["args"])
    assert not settings.insecure and settings.tls_cert is not None and settings.tls_key is not None
    assert settings.tls_client_ca is not None  # client certificates are required, not optional
    mounts = {m["mountPath"] for m in container(rendered)["volumeMounts"]}
    assert str(settings.tls_client_ca.parent) in mounts and settings.tokens is not None


def test_du_presents_a_client_certificate_to_the_meta_controller_by_default(
    helm: HelmEngine, tmp_path: Path
) -> None:
    rendered = render(helm, "metahrl-du")
    settings = load_settings(env={CONFIG_FILE_ENV: str(write_descriptor(rendered, tmp_path))})
    meta = settings.meta
    assert meta.tls and meta.ca_file and meta.cert_file and meta.key_file
    mounts = {m["mountPath"] for m in container(rendered)["volumeMounts"]}
    assert {str(meta.ca_file.parent), str(meta.cert_file.parent), str(meta.key_file.parent)} <= mounts


def test_du_config_token_comes_from_a_secret_file(helm: HelmEngine, tmp_path: Path) -> None:
    rendered = render(helm, "metahrl-du")
    spec = rendered.one("Deployment")["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == "http-token"]
    assert volume["secret"] == {
        "secretName": "metahrl-du-http-token",
        "items": [{"key": "token", "path": "token"}],
    }
    env = {e["name"]: e.get("value") for e in container(rendered)["env"]}
    path = Path(env["METAHRL_XAPP_HTTP__TOKEN_FILE"])
    mounts = {m["mountPath"]: m for m in container(rendered)["volumeMounts"]}
    assert mounts[str(path.parent)]["name"] == "http-token" and mounts[str(path.parent)]["readOnly"]
    # the pod's settings, with the Secret's file where the chart mounts it (here: under tmp_path)
    secret = tmp_path / "token"
    secret.write_text("0123456789abcdef0123456789abcdef")
    descriptor = write_descriptor(rendered, tmp_path)
    settings = load_settings(
        env={CONFIG_FILE_ENV: str(descriptor), "METAHRL_XAPP_HTTP__TOKEN_FILE": str(secret)}
    )
    assert settings.http.token is not None
    assert settings.http.token.get_secret_value() == "0123456789abcdef0123456789abcdef"
    # no Secret named: no token, the variable is not set (config changes are then refused)
    off = render(helm, "metahrl-du", {"httpTokenSecret": {"name": ""}})
    assert "METAHRL_XAPP_HTTP__TOKEN_FILE" not in {e["name"] for e in container(off).get("env") or []}


def test_meta_chart_maps_every_meta_controller_flag() -> None:
    """The chart's controls → flags table (templates/_descriptor.tpl) is the CLI's, less --port-file
    (a test hook) and --http/--insecure (handled apart: 'off' and a bare flag)."""
    tpl = (HELM / "metahrl-meta" / "templates" / "_descriptor.tpl").read_text()
    chart = set(re.findall(r'"(\w+)" "(--[\w-]+)"', tpl))
    cli = {(f.path.rsplit(".", 1)[-1], f.flag) for f in meta_cli._FLAGS}  # the CLI's own table
    assert chart == cli - {("port_file", "--port-file"), ("http", "--http"), ("insecure", "--insecure")}


def test_meta_settings_without_a_flag_are_refused_at_render(helm: HelmEngine) -> None:
    with pytest.raises(helm.render_error, match=r"controls\.rounds\.groups has no meta-controller flag"):
        render(helm, "metahrl-meta", {"controls": {"rounds": {"groups": ["high"]}}})


# ---- e2sim --------------------------------------------------------------------------------------


def test_e2sim_args_parse_as_the_e2sim_command(helm: HelmEngine) -> None:
    from e2sim import e2_cli

    rendered = render(
        helm, "metahrl-e2sim", load_values(HELM / "metahrl-e2sim" / "ci" / "direct-values.yaml")
    )
    args = container(rendered)["args"]
    assert args[0] == "e2sim"
    parser = argparse.ArgumentParser()
    e2_cli.add_arguments(parser)
    parsed = parser.parse_args(args[1:])
    assert e2_cli.parse_endpoint(parsed.ric) == ("service-ricxapp-metahrl-du-direct-e2.ricxapp", 36422)
    assert (parsed.transport, parsed.seed, parsed.realtime) == ("tcp", 1, True)


# ---- the same objects as the OSC onboarder's chart ----------------------------------------------


def onboarder_chart(osc_dir: Path, xapp: str, tmp_path: Path) -> Path:
    """What `dms_cli onboard` builds from xapp-std and our descriptor (its steps, re-done here):
    Chart.yaml name/version from the descriptor, the descriptor appended to values.yaml and (with
    schema.json) to the appconfig ConfigMap, the descriptor's probes appended to the container."""
    onboard = DEPLOY / "onboard" / xapp
    doc = json.loads((onboard / "config-file.json").read_text())
    chart = tmp_path / doc["name"]
    shutil.copytree(osc_dir / "xapp-std", chart)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump({**meta, "name": doc["name"], "version": doc["version"]})
    )
    with (chart / "values.yaml").open("a") as values:
        values.write("\n" + yaml.safe_dump(doc, default_flow_style=False))

    def block(text: str) -> str:
        return "".join("    " + line for line in text.splitlines(True))

    with (chart / "templates" / "appconfig.yaml").open("a") as appconfig:
        appconfig.write("  config-file.json: |\n" + block(json.dumps(doc, indent=4)) + "\n")
        appconfig.write("  schema.json: |\n" + block((onboard / "schema.json").read_text()) + "\n")
    with (chart / "templates" / "deployment.yaml").open("a") as deployment:
        for probe in ("readinessProbe", "livenessProbe"):
            dumped = yaml.safe_dump(doc[probe], width=1000)
            deployment.write(
                f"          {probe}:\n" + "".join(" " * 12 + line for line in dumped.splitlines(True))
            )
    return chart


@pytest.mark.parametrize(("xapp", "chart"), [("du-xapp", "metahrl-du"), ("meta-controller", "metahrl-meta")])
def test_chart_yields_the_onboarders_services_ports_probes_and_env(
    helm: HelmEngine, osc_dir: Path, tmp_path: Path, xapp: str, chart: str
) -> None:
    theirs = helm.render(onboarder_chart(osc_dir, xapp, tmp_path), release=chart, namespace="ricxapp")
    ours = render(helm, chart)
    # Services: same names, ports and selectors (except an RMR Service without ports, see below)
    their_services = {s["metadata"]["name"]: s for s in theirs.of_kind("Service")}
    empty = {n for n, s in their_services.items() if not s["spec"].get("ports")}
    if xapp == "meta-controller":  # no RMR ports: xapp-std renders an RMR Service with none
        assert empty == {"service-ricxapp-metahrl-meta-rmr"}
    else:
        assert not empty
    assert ours.names("Service") == set(their_services) - empty
    for name, theirs_svc in their_services.items():
        if name in empty:
            continue
        ours_svc = ours.one("Service", name)
        assert service_ports(ours_svc) == service_ports(theirs_svc), name
        assert ours_svc["spec"]["selector"] == theirs_svc["spec"]["selector"], name
    # Deployment: name, selector, hostname, container ports, probes, envFrom, descriptor mount
    their_dep, our_dep = theirs.one("Deployment"), ours.one("Deployment")
    assert our_dep["metadata"]["name"] == their_dep["metadata"]["name"]
    assert our_dep["spec"]["selector"] == their_dep["spec"]["selector"]
    their_pod, our_pod = their_dep["spec"]["template"]["spec"], our_dep["spec"]["template"]["spec"]
    assert our_pod["hostname"] == their_pod["hostname"]
    (their_c,), our_c = their_pod["containers"], container(ours)
    assert {(p["name"], p["containerPort"]) for p in our_c["ports"]} == {
        (p["name"], p["containerPort"]) for p in their_c["ports"]
    }
    for probe in ("livenessProbe", "readinessProbe"):
        assert our_c[probe] == their_c[probe]
    assert [r["configMapRef"]["name"] for r in our_c["envFrom"]] == [
        r["configMapRef"]["name"] for r in their_c["envFrom"]
    ]
    their_mount = {m["name"]: m["mountPath"] for m in their_c["volumeMounts"]}["config-volume"]
    assert {m["name"]: m["mountPath"] for m in our_c["volumeMounts"]}["config-volume"] == their_mount
    # ConfigMaps: same names; their environment is contained in ours; the same descriptor
    assert theirs.names("ConfigMap") == ours.names("ConfigMap")
    their_env, our_env = appenv_of(theirs), appenv_of(ours)
    if xapp == "meta-controller":  # no RMR: the RMR variables are left out on purpose
        their_env = {k: v for k, v in their_env.items() if not k.startswith("RMR_")}
    assert {k: our_env.get(k) for k in their_env} == their_env
    assert descriptor_of(ours) == descriptor_of(theirs)
