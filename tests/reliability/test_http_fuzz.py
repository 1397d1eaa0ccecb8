"""Schema-driven fuzzing of the HTTP APIs: the DU xApp's (over a real, unstarted XappService) and
the meta-controller's (over a real, unstarted Controller), through FastAPI's TestClient.

Request bodies come from the app's own OpenAPI schema (`from_schema` below: a small JSON-schema
→ Hypothesis translation of the keywords FastAPI emits for these models; hypothesis-jsonschema
0.23 does not run on this Hypothesis version), from mutations
of schema-valid bodies and from arbitrary JSON and bytes. Properties: no request is ever
answered 500; a config PUT is answered 422 exactly when the body does not validate as
`XappControls`, and then nothing changes; a PUT without the bearer token is refused (401/403),
counted, and changes nothing; the read-only endpoints answer without a token.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from e2sim.du_tasks import du_tasks
from meta_controller.algorithm import MetaConfig
from meta_controller.http import create_app as create_meta_app
from meta_controller.metrics import ControllerMetrics
from meta_controller.rounds import RoundConfig, Rounds
from meta_controller.service import Controller
from meta_controller.store import MetaStore
from ric.sdl import MemorySdl
from tests.meta_service.helpers import theta0
from tests.xapp_du.helpers import share_env, small_scenario, tiny_pool
from xapps.du.service import XappService
from xapps.e2access.direct import DirectE2
from xapps.service.http import create_app
from xapps.service.metrics import XappMetrics
from xapps.service.settings import SettingsError, XappControls, XappSettings, load_settings

TOKEN = secrets.token_hex(16)  # generated at run time: no credential is committed
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
REFUSED = "metahrl_du_http_auth_refused_total"


def _service() -> XappService:
    scenario = small_scenario()
    env = share_env(scenario)
    pool = tiny_pool(env)
    agents = {d: pool[d] for d in range(len(pool))}
    metrics = XappMetrics(CollectorRegistry())
    return XappService(
        XappSettings(), du_tasks(scenario), agents, agents, env.mdp_config, DirectE2(), metrics
    )


@pytest.fixture(scope="module")
def service() -> XappService:
    return _service()


@pytest.fixture(scope="module")
def client(service: XappService) -> TestClient:
    return TestClient(create_app(service, service.metrics.registry, config_token=TOKEN))


def _schema(client: TestClient, name: str) -> dict[str, Any]:
    spec = client.app.openapi()  # type: ignore[attr-defined]
    return {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}


def _number(schema: dict[str, Any], integer: bool) -> st.SearchStrategy[Any]:
    lo, hi = (
        schema.get("minimum", schema.get("exclusiveMinimum")),
        schema.get("maximum", schema.get("exclusiveMaximum")),
    )
    if integer:
        lo = None if lo is None else int(lo) + ("exclusiveMinimum" in schema)
        hi = None if hi is None else int(hi) - ("exclusiveMaximum" in schema)
        return st.integers(lo, hi)
    return st.floats(
        lo,
        hi,
        exclude_min="exclusiveMinimum" in schema,
        exclude_max="exclusiveMaximum" in schema,
        allow_nan=False,
    )


def from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Values valid under ``schema`` ($ref, anyOf, enum/const, object, integer, number, boolean, string)."""
    root = root or schema
    if "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        return from_schema(node, root)
    if "anyOf" in schema:
        return st.one_of([from_schema(s, root) for s in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        props = {k: from_schema(v, root) for k, v in schema.get("properties", {}).items()}
        required = set(schema.get("required", props))
        return st.fixed_dictionaries(
            {k: v for k, v in props.items() if k in required},
            optional={k: v for k, v in props.items() if k not in required},
        )
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 20))
    if kind == "null":
        return st.none()
    raise AssertionError(f"schema keyword set not handled: {schema}")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_NAN_INF = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"])


@st.composite
def _mutated(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> Any:
    """A schema-valid body with one leaf replaced, a key dropped or a key added."""
    body = json.loads(json.dumps(draw(valid)))
    section = draw(st.sampled_from(sorted(body)))
    op = draw(st.sampled_from(["replace", "drop", "add", "drop_section"]))
    if op == "drop_section":
        del body[section]
    elif op == "add":
        body[section][draw(st.text(min_size=1, max_size=8))] = draw(JSON)
    else:
        key = draw(st.sampled_from(sorted(body[section])))
        if op == "drop":
            del body[section][key]
        else:
            body[section][key] = draw(JSON)
    return body


def _valid(body: Any) -> bool:
    try:
        XappControls.model_validate(body)
    except ValidationError:
        return False
    return True


def _refusals(service: XappService, reason: str) -> float:
    value = service.metrics.registry.get_sample_value(
        "metahrl_du_http_requests_refused_total", {"reason": reason}
    )
    return value or 0.0


def _put_and_check(client: TestClient, service: XappService, body: Any) -> None:
    before = service.controls()
    invalid, conflict = _refusals(service, "invalid_request"), _refusals(service, "conflict")
    r = client.put("/ric/v1/config", json=body, headers=AUTH)
    assert r.status_code != 500
    if not _valid(body):
        assert r.status_code == 422, r.text
        assert service.controls() == before and _refusals(service, "invalid_request") == invalid + 1
        return
    new = XappControls.model_validate(body)
    if new.learning.mode != before.learning.mode:  # the runtime refuses a learning-mode switch
        assert r.status_code == 409 and service.controls() == before
        assert _refusals(service, "conflict") == conflict + 1
    else:
        assert r.status_code == 200 and service.controls() == new
        assert r.json() == new.model_dump(mode="json")


def test_schema_valid_config_bodies_are_applied_or_refused_by_the_runtime(
    client: TestClient, service: XappService
) -> None:
    @FUZZ
    @given(from_schema(_schema(client, "XappControls")))
    def check(body: dict[str, Any]) -> None:
        _put_and_check(client, service, body)

    check()


def test_mutated_and_arbitrary_config_bodies_give_422_and_change_nothing(
    client: TestClient, service: XappService
) -> None:
    valid = from_schema(_schema(client, "XappControls"))

    @FUZZ
    @given(st.one_of(_mutated(valid), JSON))
    def check(body: Any) -> None:
        _put_and_check(client, service, body)

    check()


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), _NAN_INF.map(str.encode)))
def test_non_json_and_non_finite_bodies_give_422(
    client: TestClient, service: XappService, raw: bytes
) -> None:
    before = service.controls()
    r = client.put("/ric/v1/config", content=raw, headers={**AUTH, "Content-Type": "application/json"})
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:  # not even text: FastAPI answers "error parsing the body"
        assert r.status_code == 400 and service.controls() == before
        return
    assert r.status_code == 422 and service.controls() == before


_HEADERS = st.one_of(
    st.just({}),
    st.builds(lambda t: {"Authorization": f"Bearer {t}"}, st.text("abcdef0123456789-", max_size=40)),
    st.builds(lambda t: {"Authorization": t}, st.text("abcdefgh 0123456789:=", max_size=40)),
    st.just({"Authorization": f"Basic {TOKEN}"}),
    st.just({"Authorization": f"Bearer {TOKEN}x"}),
    st.just({"Authorization": f"Bearer {TOKEN[:-1]}"}),
)


@FUZZ
@given(headers=_HEADERS)
def test_a_put_without_the_token_is_refused_counted_and_changes_nothing(
    client: TestClient, service: XappService, headers: dict[str, str]
) -> None:
    registry = service.metrics.registry

    def refused() -> float:
        return sum(registry.get_sample_value(REFUSED, {"reason": r}) or 0.0 for r in ("missing", "invalid"))

    before, count = service.controls(), refused()
    body = before.model_dump(mode="json")
    body["control"]["control_timeout_s"] = 0.123  # a valid change, never applied without the token
    r = client.put("/ric/v1/config", json=body, headers=headers)
    assert r.status_code in (401, 403), r.text
    assert service.controls() == before and refused() == count + 1
    if r.status_code == 401:
        assert r.headers["WWW-Authenticate"] == "Bearer"


def test_with_no_token_configured_config_changes_are_off(service: XappService) -> None:
    registry = CollectorRegistry()
    off = TestClient(create_app(service, registry))
    before = service.controls()
    r = off.put("/ric/v1/config", json=before.model_dump(mode="json"), headers=AUTH)
    assert r.status_code == 403 and "no http.token" in r.json()["detail"]
    assert registry.get_sample_value(REFUSED, {"reason": "disabled"}) == 1.0
    assert off.get("/ric/v1/config").status_code == 200  # reading needs no token


_PATHS = ["/ric/v1/health/alive", "/ric/v1/health/ready", "/ric/v1/config", "/ric/v1/metrics"]
_QUERY = st.dictionaries(st.text("abcxyz_", min_size=1, max_size=6), st.text(max_size=10), max_size=3)
_ANY_PATH = st.one_of(st.sampled_from(_PATHS), st.text("abc/%.-_v1", max_size=30).map(lambda p: "/" + p))


@FUZZ
@given(
    path=_ANY_PATH, method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]), query=_QUERY
)
def test_xapp_endpoints_never_answer_500(
    client: TestClient, path: str, method: str, query: dict[str, str]
) -> None:
    r = client.request(method, path, params=query, content=b"{}")
    assert r.status_code < 500 or (path == "/ric/v1/health/ready" and r.status_code == 503), (path, r.text)
    if method == "GET" and path in ("/ric/v1/config", "/ric/v1/metrics", "/ric/v1/health/alive"):
        assert r.status_code == 200  # read-only endpoints need no token


@pytest.fixture(scope="module")
def meta_client() -> TestClient:
    registry = CollectorRegistry()
    rounds = Rounds(theta0(), MetaConfig(), RoundConfig(min_updates=3))
    controller = Controller(rounds, MetaStore(MemorySdl(), "fuzz"), ControllerMetrics(registry))
    return TestClient(create_meta_app(controller, registry))


@FUZZ
@given(path=_ANY_PATH, method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]), query=_QUERY)
def test_meta_controller_endpoints_never_answer_500(
    meta_client: TestClient, path: str, method: str, query: dict[str, str]
) -> None:
    r = meta_client.request(method, path, params=query, content=b"\x00garbage")
    health = path in ("/ric/v1/health/alive", "/ric/v1/health/ready")
    assert r.status_code < 500 or (health and r.status_code == 503), (path, r.text)
    if method != "GET":
        assert r.status_code in (404, 405)  # nothing on the meta-controller's HTTP side changes state


# ---- the token setting ----------------------------------------------------------------------------


def test_the_token_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")  # as a mounted Secret may end it
    from_file = load_settings(env={"METAHRL_XAPP_HTTP__TOKEN_FILE": str(secret)})
    assert from_file.http.token is not None and from_file.http.token.get_secret_value() == TOKEN
    from_env = load_settings(env={"METAHRL_XAPP_HTTP__TOKEN": TOKEN})
    assert from_env.http.token is not None and from_env.http.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(from_env) and TOKEN not in str(from_env.model_dump())  # never printed


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "cannot read token file"), ("", "at least 16 characters"), ("two words here", "no spaces")],
)
def test_a_bad_token_file_is_an_error_naming_the_file(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    secret = tmp_path / "token"
    if content is not None:
        secret.write_text(content)
    with pytest.raises(SettingsError) as err:
        load_settings(env={"METAHRL_XAPP_HTTP__TOKEN_FILE": str(secret)})
    assert problem in str(err.value) and str(secret) in str(err.value) and "http" in str(err.value)


def test_token_and_token_file_together_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text(TOKEN)
    env = {"METAHRL_XAPP_HTTP__TOKEN_FILE": str(secret), "METAHRL_XAPP_HTTP__TOKEN": TOKEN}
    with pytest.raises(SettingsError, match="not both"):
        load_settings(env=env)
