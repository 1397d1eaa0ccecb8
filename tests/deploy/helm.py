"""A thin typed wrapper over helm-python-sdk (the Helm v4 engine as a library): render a chart
offline into Kubernetes documents, lint it, validate values against its values.schema.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

__all__ = ["HelmEngine", "Rendered"]


@dataclass(frozen=True)
class Rendered:
    """The documents a chart renders to, by kind and name."""

    docs: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d.get("kind") == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [d for d in self.of_kind(kind) if name is None or d["metadata"]["name"] == name]
        assert len(found) == 1, (
            f"expected one {kind} {name or ''}, found {[d['metadata']['name'] for d in found]}"
        )
        return found[0]

    def names(self, kind: str) -> set[str]:
        return {d["metadata"]["name"] for d in self.of_kind(kind)}


class HelmEngine:
    def __init__(self, sdk: ModuleType) -> None:
        self.sdk = sdk

    def render(
        self, chart: Path, values: dict[str, Any] | None = None, *, release: str, namespace: str
    ) -> Rendered:
        with self.sdk.Chart.load(str(chart)) as loaded:
            manifests: dict[str, str] = loaded.render(
                values=values, name=release, namespace=namespace, is_install=True
            )
        docs = [
            doc
            for text in manifests.values()
            for doc in yaml.safe_load_all(text)
            if isinstance(doc, dict) and doc
        ]
        return Rendered(docs)

    def lint(self, chart: Path, values: dict[str, Any] | None = None, *, namespace: str) -> dict[str, Any]:
        report: dict[str, Any] = self.sdk.lint(str(chart), values, strict=True, namespace=namespace)
        return report

    def validate_values(self, chart: Path, values: dict[str, Any]) -> None:
        """Raise the engine's HelmValuesError when `values` break the chart's values.schema.json."""
        with self.sdk.Chart.load(str(chart)) as loaded:
            loaded.validate_schema(values)

    @property
    def values_error(self) -> type[Exception]:
        error: type[Exception] = self.sdk.HelmValuesError
        return error

    @property
    def render_error(self) -> type[Exception]:
        error: type[Exception] = self.sdk.HelmRenderError
        return error
