"""Write the generated deployment files from the services' own settings models.

    .venv/bin/python deploy/onboard/regenerate.py          # rewrite them
    .venv/bin/python deploy/onboard/regenerate.py --check  # exit 1 if any is out of date

Generated (never edit them by hand):

- ``deploy/onboard/du-xapp/schema.json``: the DU xApp's ``controls`` schema, exactly
  ``xapps.service.settings.controls_json_schema()``;
- ``deploy/onboard/meta-controller/schema.json``: the meta-controller's ``controls`` schema, from
  ``meta_controller.config.ControllerSettings`` (references inlined: the onboarder embeds this
  schema inside its own, where ``$defs`` references would not resolve);
- the ``controls`` property of each Helm chart's ``values.schema.json``: the same schema without
  ``required`` (chart values hold overrides merged onto the descriptor's controls), so a typo in
  an override fails ``helm install`` / ``helm lint``.

`tests/deploy` checks that the committed files equal what this script writes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEPLOY = Path(__file__).resolve().parents[1]
ROOT = DEPLOY.parent

__all__ = ["du_controls_schema", "generated_files", "meta_controls_schema"]


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    """`node` with each local ``#/$defs/…`` reference replaced by its definition."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _inline(value, defs) for key, value in node.items() if key != "$ref"}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**_inline(defs[ref.removeprefix("#/$defs/")], defs), **out}
    return out


def du_controls_schema() -> dict[str, Any]:
    from xapps.service.settings import controls_json_schema

    return controls_json_schema()


def meta_controls_schema() -> dict[str, Any]:
    from meta_controller.config import ControllerSettings

    raw = ControllerSettings.model_json_schema()
    schema: dict[str, Any] = _inline({k: v for k, v in raw.items() if k != "$defs"}, raw.get("$defs", {}))
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        **schema,
        "title": "metahrl meta-controller controls",
    }


def _overrides_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A controls schema for partial overrides: no ``required`` at the top, no ``$schema``."""
    return {k: v for k, v in schema.items() if k not in ("$schema", "required")}


def _dump(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _values_schema(path: Path, controls: Mapping[str, Any]) -> str:
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["properties"]["controls"] = _overrides_schema(controls)
    return _dump(doc)


def generated_files() -> dict[Path, str]:
    """Every generated file and the text it must hold."""
    sys.path.insert(0, str(ROOT))
    du, meta = du_controls_schema(), meta_controls_schema()
    helm = DEPLOY / "helm"
    values_du = helm / "metahrl-du" / "values.schema.json"
    values_meta = helm / "metahrl-meta" / "values.schema.json"
    return {
        DEPLOY / "onboard" / "du-xapp" / "schema.json": _dump(du),
        DEPLOY / "onboard" / "meta-controller" / "schema.json": _dump(meta),
        values_du: _values_schema(values_du, du),
        values_meta: _values_schema(values_meta, meta),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated_files().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    for path in stale:
        verb = "out of date" if args.check else "written"
        sys.stderr.write(f"{path.relative_to(ROOT)}: {verb}\n")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
