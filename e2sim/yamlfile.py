"""YAML settings files that are either a path or the name of a file shipped in a package folder.

Shared by scenarios (``e2sim/scenarios``), training configs (``experiments/configs``) and reproduce
presets (``experiments/meta/presets``), so that all three find files, and word their errors, alike.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

__all__ = ["bundled_names", "format_validation_error", "read_named_yaml"]


def bundled_names(package: str, folder: str) -> list[str]:
    """Names (without ``.yaml``) of the files shipped in ``package/folder``."""
    root = resources.files(package) / folder
    return sorted(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))


def read_named_yaml(
    name_or_path: str | Path, package: str, folder: str, kind: str, error: type[Exception]
) -> tuple[Any, str]:
    """Parse a YAML file given by path, or by the name of a file in ``package/folder``.

    Returns the parsed data ({} for an empty file) and a source label for error messages. Raises
    ``error`` naming the file for a missing file, an unknown name or invalid YAML.
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise error(f"{path}: no such {kind} file")
        text, source = _read_text(path, kind, error), str(path)
    else:
        res = resources.files(package) / folder / f"{name_or_path}.yaml"
        if not res.is_file():
            raise error(
                f"unknown {kind} {str(name_or_path)!r}: not a file, and not one of the bundled "
                f"{kind}s {bundled_names(package, folder)}"
            )
        text, source = res.read_text(encoding="utf-8"), f"{name_or_path}.yaml"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise error(f"{source}: invalid YAML{_where(err)}: {_problem(err)}") from None
    return ({} if data is None else data), source


def _read_text(path: Path, kind: str, error: type[Exception]) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a UTF-8 text file (byte {exc.start}): is it a {kind} file?") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {kind} file: {exc.strerror or exc}") from None


def _where(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    return "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"


def _problem(err: yaml.YAMLError) -> str:
    """The parser's own words, without its excerpt of the text (the position is given)."""
    parts = [getattr(err, "context", None), getattr(err, "problem", None)]
    words = "; ".join(str(p) for p in parts if p)
    return words or str(err).splitlines()[0]


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line per invalid field: ``SOURCE: field 'a.b': reason``."""
    return "\n".join(
        f"{source}: field '{'.'.join(str(p) for p in e['loc']) or '<root>'}': {e['msg']}"
        for e in err.errors()
    )
