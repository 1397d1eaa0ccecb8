#!/usr/bin/env bash
# Create .venv (if needed) and install the project with its dev/test extras.
# Idempotent: a stamp of pyproject.toml's hash skips the pip run when nothing changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${METAHRL_VENV:-$root/.venv}"
py="${PYTHON:-python3}"

"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "oran-metahrl needs Python >= 3.11")'
if [ ! -x "$venv/bin/python" ]; then
    echo "[bootstrap] creating virtual environment in $venv" >&2
    "$py" -m venv "$venv"
fi
# OSC path (RMR): librmr built from the vendored source into $venv/rmr (about 5 s, once; ric.rmr
# loads $venv/rmr/lib/librmr_si.so itself, no LD_LIBRARY_PATH needed), and ricxappframe 3.2.2
# without its dependencies (its protobuf<3.21 pin conflicts with ours) plus the runtime ones it
# really needs (six is used but undeclared). Without them the RMR tests skip, saying why.
osc_rmr() {
    local shared="${METAHRL_SHARED_DIR:-$root/../shared}"
    local pipq=("$venv/bin/python" -m pip --disable-pip-version-check -q)
    if [ ! -e "$venv/rmr/lib/librmr_si.so" ]; then
        if [ -f "$shared/tools/build-rmr.sh" ]; then
            echo "[bootstrap] building librmr into $venv/rmr" >&2
            bash "$shared/tools/build-rmr.sh" "$venv/rmr" || echo "[bootstrap] librmr build failed" >&2
        else
            echo "[bootstrap] $shared/tools/build-rmr.sh not found: no librmr" >&2
        fi
    fi
    if ! "$venv/bin/python" -c 'import ricxappframe' 2>/dev/null; then
        echo "[bootstrap] installing ricxappframe==3.2.2 (--no-deps)" >&2
        "${pipq[@]}" install --no-deps "ricxappframe==3.2.2"
        "${pipq[@]}" install inotify-simple inotify msgpack mdclogpy requests six
    fi
}
osc_rmr
# promtool + prometheus for tests/deploy: Debian's package, when missing and we may install it
# (root, apt, non-interactive); otherwise those checks skip, saying why.
if ! command -v promtool >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[bootstrap] installing Debian's prometheus (promtool) for tests/deploy" >&2
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends prometheus; }; } >/dev/null 2>&1 \
        || echo "[bootstrap] could not install prometheus; its checks in tests/deploy will skip" >&2
fi
stamp="$venv/.bootstrap-stamp"
want="$(cat "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
# torch first, pinned: on the project's machines torch==2.13.0 is a local CPU wheel, while any
# looser spec (or letting another package pull torch in) downloads a multi-GB CUDA build.
if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
    echo "[bootstrap] installing torch==2.13.0 (CPU)" >&2
    "${pip[@]}" install "torch==2.13.0"
fi
echo "[bootstrap] installing oran-metahrl[dev] (editable)" >&2
"${pip[@]}" install -e "$root[dev]"
echo "$want" > "$stamp"
