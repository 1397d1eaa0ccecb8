"""Audit the installed dependency set against the package registry's advisory data.

    .venv/bin/python scripts/audit.py [--json] [--timeout-s 30]

First `pip-audit` (its PyPI service: ``/pypi/<name>/<version>/json``). Where that service cannot
answer — this build host's registry proxy serves the project pages ``/pypi/<name>/json`` but not
the per-version ones, and OSV is not reachable — the same advisory data is read from the project
page, which lists the advisories of the newest release: an installed version that *is* the newest
is audited from it, an older one is reported as not audited (with the newest version). Nothing
here ever fails because the advisory service is unreachable: the report says so.

Exit status: 1 when an installed version has an advisory with a fixed version (upgrade it), else 0
(advisories without a fix are reported, not failed on).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

__all__ = ["Advisory", "Audit", "main"]

REGISTRY = os.environ.get("METAHRL_AUDIT_REGISTRY", "https://pypi.org/pypi")
SELF = "oran-metahrl"


@dataclass(frozen=True)
class Advisory:
    package: str
    version: str
    id: str
    fixed_in: tuple[str, ...]


@dataclass
class Audit:
    source: str = "none"
    audited: int = 0
    not_audited: dict[str, str] = field(default_factory=dict)  # package -> why
    advisories: list[Advisory] = field(default_factory=list)
    note: str = ""

    @property
    def fixable(self) -> list[Advisory]:
        return [a for a in self.advisories if a.fixed_in]


def _installed() -> dict[str, str]:
    out = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name and name != SELF:
            out[name] = dist.version
    return dict(sorted(out.items()))


def _pip_audit(timeout_s: float) -> Audit | None:
    """pip-audit's own report, or None when it is missing or its service answered nothing."""
    cmd = [sys.executable, "-m", "pip_audit", "-s", "pypi", "-f", "json", "--progress-spinner", "off"]
    try:
        done = subprocess.run(
            [*cmd, "--timeout", str(max(1, int(timeout_s / 4)))], capture_output=True, timeout=timeout_s
        )
        report = json.loads(done.stdout or b"{}")
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return None
    deps = [d for d in report.get("dependencies", []) if d.get("name", "").lower() != SELF]
    audited = [d for d in deps if "skip_reason" not in d]
    if not audited:
        return None
    audit = Audit(source="pip-audit (PyPI per-version advisories)", audited=len(audited))
    for d in deps:
        if "skip_reason" in d:
            audit.not_audited[d["name"]] = str(d["skip_reason"])
        for v in d.get("vulns", []):
            audit.advisories.append(
                Advisory(d["name"], d["version"], v["id"], tuple(v.get("fix_versions", ())))
            )
    return audit


def _project_page(name: str, timeout_s: float) -> dict[str, Any] | str:
    url = f"{REGISTRY}/{name}/json"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            page: dict[str, Any] = json.load(response)
            return page
    except urllib.error.HTTPError as exc:
        return f"registry answered {exc.code}"
    except (OSError, ValueError) as exc:
        return f"registry unreachable ({type(exc).__name__})"


def _from_project_pages(installed: dict[str, str], timeout_s: float) -> Audit:
    audit = Audit(source=f"registry project pages ({REGISTRY}/<name>/json: the newest release's advisories)")
    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = dict(zip(installed, pool.map(lambda n: _project_page(n, timeout_s), installed), strict=True))
    for name, version in installed.items():
        page = pages[name]
        if isinstance(page, str):
            audit.not_audited[name] = page
            continue
        newest = str(page.get("info", {}).get("version", "?"))
        if newest != version:
            audit.not_audited[name] = f"installed {version}, newest {newest}: no per-version advisories here"
            continue
        audit.audited += 1
        for v in page.get("vulnerabilities") or []:
            if not v.get("withdrawn"):
                audit.advisories.append(
                    Advisory(name, version, str(v.get("id")), tuple(v.get("fixed_in") or ()))
                )
    if not audit.audited:
        audit.note = "the advisory service is unreachable from here: nothing could be audited"
    return audit


def run_audit(timeout_s: float) -> Audit:
    deadline = time.monotonic() + timeout_s
    audit = _pip_audit(timeout_s * 0.6)
    if audit is not None:
        return audit
    installed = _installed()
    audit = _from_project_pages(installed, max(1.0, min(5.0, deadline - time.monotonic())))
    audit.note = (
        audit.note or "pip-audit's per-version PyPI service did not answer; fell back to project pages"
    )
    return audit


def _report(audit: Audit) -> str:
    lines = [
        f"dependency audit: {audit.source}",
        f"  audited {audit.audited}, not audited {len(audit.not_audited)}, "
        f"advisories {len(audit.advisories)} ({len(audit.fixable)} with a fix)",
    ]
    for a in audit.advisories:
        fix = f"fixed in {', '.join(a.fixed_in)}" if a.fixed_in else "no fix released"
        lines.append(f"  ADVISORY {a.package} {a.version}: {a.id} ({fix})")
    lines += [f"  not audited: {name}: {why}" for name, why in audit.not_audited.items()]
    if audit.note:
        lines.append(f"  note: {audit.note}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--timeout-s", type=float, default=30.0, help="overall time bound (default 30)")
    args = p.parse_args(argv)
    audit = run_audit(args.timeout_s)
    if args.json:
        out = asdict(audit) | {
            "audited_total": audit.audited,
            "not_audited_total": len(audit.not_audited),
            "advisories_total": len(audit.advisories),
            "fixable_total": len(audit.fixable),
        }
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        sys.stdout.write(_report(audit))
    return 1 if audit.fixable else 0


if __name__ == "__main__":
    sys.exit(main())
