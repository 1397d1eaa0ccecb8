"""No secret in the repository or in the images.

Scanned: every tracked file (``git ls-files``) and everything the image build
(deploy/docker/build.sh) stages into its context — the top-level Python packages (tracked or new
and not ignored), pyproject.toml, README.md, deploy/onboard and deploy/docker. Looked for: PEM
private-key blocks, well-known credential formats (AWS access keys, GitHub/GitLab/Slack tokens,
JWTs) and token-looking assignments (a name like token/secret/password/api_key given a literal
of 16+ characters with high entropy). Test credentials are generated at run time
(``secrets.token_hex``, ``meta_controller.pki``), never committed; ALLOWLIST names the few
committed placeholders that are deliberately not secrets, each with its reason.

The scanner is itself tested on planted secrets (built at run time, so this file holds none).
"""

from __future__ import annotations

import http.server
import importlib.util
import json
import math
import random
import re
import secrets
import socket
import string
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_BYTES = 2_000_000  # larger tracked files are data, read only up to here
BEGIN = "-----BEGIN "
_PEM = re.compile(BEGIN + r"(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY( BLOCK)?-----")
_FORMATS = {
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "GitLab token": re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
}
_ASSIGNMENT = re.compile(
    r"(?i)\b[\w.-]*(?:token|secret|passw(?:or)?d|api[_-]?key|access[_-]?key|private[_-]?key)[\w.-]*"
    r"""["']?\s*[:=]\s*["']([A-Za-z0-9+/=_-]{16,})["']"""
)
ENTROPY_BITS = 3.0  # per character: a random 32-hex-digit token has ≥ 3.0 (≥ 3.25 in 99 %); "0" * 64 has 0
ALLOWLIST: dict[tuple[str, str], str] = {}  # (path, finding kind) -> why it is not a secret


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}"


def entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def scan_text(path: str, text: str) -> Iterator[Finding]:
    for number, line in enumerate(text.splitlines(), 1):
        if _PEM.search(line):
            yield Finding(path, number, "PEM private key")
        for kind, pattern in _FORMATS.items():
            if pattern.search(line):
                yield Finding(path, number, kind)
        for match in _ASSIGNMENT.finditer(line):
            value = match.group(1)
            mixed = any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
            if mixed and not value.startswith("/") and entropy(value) >= ENTROPY_BITS:
                yield Finding(path, number, "token-looking assignment")


def scan_files(paths: Iterable[Path]) -> list[Finding]:
    out: list[Finding] = []
    for path in paths:
        rel = str(path.relative_to(ROOT))
        try:
            with path.open("rb") as f:
                data = f.read(MAX_BYTES)
        except (IsADirectoryError, FileNotFoundError):  # a submodule, a file removed meanwhile
            continue
        text = data.decode("utf-8", errors="replace")
        out.extend(f for f in scan_text(rel, text) if (f.path, f.kind) not in ALLOWLIST)
    return out


def _git(*args: str) -> list[str]:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=True, timeout=60)
    return [p for p in result.stdout.decode().split("\0") if p]


def tracked_files() -> list[Path]:
    return [ROOT / p for p in _git("ls-files", "-z")]


def image_context_files() -> list[Path]:
    """What deploy/docker/build.sh copies into the build context (its selection, repeated here)."""
    files = set()
    for rel in _git("ls-files", "-z", "--cached", "--others", "--exclude-standard"):
        top = rel.split("/", 1)[0]
        if rel in ("pyproject.toml", "README.md") or (
            top != "tests" and (ROOT / top / "__init__.py").is_file() and (ROOT / rel).is_file()
        ):
            files.add(ROOT / rel)
    for folder in ("deploy/onboard", "deploy/docker"):
        files.update(p for p in (ROOT / folder).rglob("*") if p.is_file())
    return sorted(files)


def _have_git() -> bool:
    try:
        _git("rev-parse", "--show-toplevel")
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


needs_git = pytest.mark.skipif(not _have_git(), reason="not a git checkout (nothing tracked to scan)")


@needs_git
def test_no_secret_in_the_tracked_files() -> None:
    files = tracked_files()
    assert len(files) > 100  # the scan did see the repository
    findings = scan_files(files)
    assert not findings, "possible secrets:\n" + "\n".join(map(str, findings))


@needs_git
def test_no_secret_in_the_image_build_contexts() -> None:
    files = image_context_files()
    assert any(p.name == "Dockerfile" for p in files) and any(p.suffix == ".py" for p in files)
    assert not any(p.relative_to(ROOT).parts[0] == "tests" for p in files)  # tests are not shipped
    findings = scan_files(files)
    assert not findings, "possible secrets:\n" + "\n".join(map(str, findings))


def test_no_key_material_is_ignored_but_present_in_a_context() -> None:
    """Key and certificate files are never shipped: none lies under what build.sh copies."""
    if not _have_git():
        pytest.skip("not a git checkout")
    suffixes = {".pem", ".key", ".p12", ".pfx", ".jks", ".crt"}
    shipped = [
        p for p in image_context_files() if p.suffix in suffixes or p.name in ("id_rsa", "tokens.json")
    ]
    assert not shipped, shipped


# ---- the scanner finds what it should ---------------------------------------------------------


def _random_token() -> str:
    """40 letters and digits from a fixed seed (the same every run, and in no file)."""
    rng = random.Random(7)
    return "".join(rng.choices(string.ascii_letters + string.digits, k=40))


def _planted() -> dict[str, str]:
    """Secret-looking lines, assembled at run time."""
    key_body = secrets.token_urlsafe(48)
    return {
        "PEM private key": f"{BEGIN}RSA PRIVATE KEY-----\n{key_body}\n-----END RSA PRIVATE KEY-----",
        "AWS access key": "aws = " + "AKIA" + secrets.token_hex(8).upper(),
        "GitHub token": "gh = 'ghp_" + secrets.token_hex(18) + "'",
        "token-looking assignment": f'METAHRL_XAPP_HTTP__TOKEN: "{_random_token()}"',
    }


@pytest.mark.parametrize("kind", sorted(_planted()))
def test_the_scanner_finds_a_planted_secret(kind: str, tmp_path: Path) -> None:
    text = "harmless: 1\n" + _planted()[kind] + "\n"
    assert {f.kind for f in scan_text("x.yaml", text)} >= {kind}


@pytest.mark.parametrize(
    "line",
    [
        'token: SecretStr | None = Field(default=None, description="bearer token")',
        "METAHRL_XAPP_META__TOKEN: ${DU_TOKEN}",
        'password = "changeme-please-now"',
        'ca_file = "/etc/metahrl/tls/ca-2024.crt"',
        'token_file: "/etc/metahrl/http-token/token"',
        'sha256 = "0000000000000000000000000000000000000000000000000000000000000000"',
        "tokensSecret: metahrl-meta-tokens",
    ],
)
def test_the_scanner_leaves_placeholders_alone(line: str) -> None:
    assert not list(scan_text("x.py", line))


# ---- the dependency audit (scripts/audit.py) -----------------------------------------------------


def _audit_module() -> Any:
    spec = importlib.util.spec_from_file_location("metahrl_audit", ROOT / "scripts" / "audit.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class _Pages(http.server.BaseHTTPRequestHandler):
    """A registry's project pages: /pypi/<name>/json."""

    pages: ClassVar[dict[str, dict[str, Any]]] = {
        "fixed": {"info": {"version": "1.0"}, "vulnerabilities": [{"id": "PYSEC-1", "fixed_in": ["1.1"]}]},
        "unfixed": {"info": {"version": "2.0"}, "vulnerabilities": [{"id": "GHSA-2", "fixed_in": []}]},
        "withdrawn": {"info": {"version": "3.0"}, "vulnerabilities": [{"id": "X", "withdrawn": "2024"}]},
        "clean": {"info": {"version": "4.0"}, "vulnerabilities": []},
        "old": {"info": {"version": "9.0"}, "vulnerabilities": []},
    }

    def do_GET(self) -> None:
        name = self.path.strip("/").split("/")[1]
        page = self.pages.get(name)
        self.send_response(200 if page else 404)
        self.end_headers()
        if page:
            self.wfile.write(json.dumps(page).encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pypi"
    server.shutdown()
    server.server_close()


def test_the_audit_reads_advisories_and_fails_only_on_fixable_ones(
    registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit_mod = _audit_module()
    monkeypatch.setattr(audit_mod, "REGISTRY", registry)
    installed = {
        "fixed": "1.0",
        "unfixed": "2.0",
        "withdrawn": "3.0",
        "clean": "4.0",
        "old": "1.0",
        "gone": "1.0",
    }
    audit = audit_mod._from_project_pages(installed, 5.0)
    assert audit.audited == 4
    assert {(a.package, a.id, a.fixed_in) for a in audit.advisories} == {
        ("fixed", "PYSEC-1", ("1.1",)),
        ("unfixed", "GHSA-2", ()),
    }
    assert [a.package for a in audit.fixable] == ["fixed"]
    assert "newest 9.0" in audit.not_audited["old"] and "404" in audit.not_audited["gone"]


def test_the_audit_says_so_when_the_service_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    audit_mod = _audit_module()
    with socket.socket() as s:  # a port with nothing listening on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(audit_mod, "REGISTRY", f"http://127.0.0.1:{port}/pypi")
    audit = audit_mod._from_project_pages({"clean": "4.0"}, 2.0)
    assert audit.audited == 0 and not audit.advisories and "unreachable" in audit.note
    assert "unreachable" in audit.not_audited["clean"]
