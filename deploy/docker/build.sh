#!/usr/bin/env bash
# Build the oran-metahrl images (deploy/docker/Dockerfile targets + the Debian-packaged Redis and
# Prometheus of Dockerfile.platform) from a staged context, so nothing outside the project (a
# virtual environment, data, caches) is sent to the engine.
#
#   deploy/docker/build.sh [TARGET…]        # default: e2sim du-xapp meta-controller redis prometheus
#
# Environment:
#   BASE_IMAGE   base of every image (default python:3.11-slim-bookworm; offline machines:
#                the local Debian base that ../shared/tools/docker-up.sh prints)
#   TAG          image tag (default: the project version, 0.1.0); images are metahrl/<target>:TAG
#   TORCH_WHEEL  a CPU torch wheel to install from (default: the torch-2.13.0 wheel pip's
#                find-links hold, if any; else the images fetch torch from PyTorch's CPU index)
#   RMR_TARBALL  RMR 4.9.4 source (default ../shared/vendor/rmr/rmr-4.9.4.tar.gz, else the
#                upstream tag from GitHub)
# Prints the built image names, one a line. Exit status: 0, or docker's on a failed build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
base="${BASE_IMAGE:-python:3.11-slim-bookworm}"
tag="${TAG:-0.1.0}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(e2sim du-xapp meta-controller redis prometheus)
say() { echo "[build] $*" >&2; }

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/src" "$ctx/wheels" "$ctx/rmr"
# the project: pyproject, README and every top-level Python package (tracked or new, not ignored)
(
    cd "$root"
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
            top="${f%%/*}"
            if [ "$f" = pyproject.toml ] || [ "$f" = README.md ] ||
                { [ "$top" != tests ] && [ -f "$top/__init__.py" ] && [ -f "$f" ]; }; then
                printf '%s\0' "$f"
            fi
        done | xargs -0 cp --parents -t "$ctx/src"
)
cp -r "$root/deploy/onboard" "$ctx/onboard"

wheel="${TORCH_WHEEL:-}"
if [ -z "$wheel" ]; then
    for dir in $(python3 -m pip config list 2>/dev/null | sed -n "s/.*find-links='\(.*\)'/\1/p"); do
        for w in "$dir"/torch-2.13.0*.whl; do [ -f "$w" ] && wheel="$w"; done
    done
fi
if [ -n "$wheel" ]; then
    say "torch from $wheel"
    ln "$wheel" "$ctx/wheels/" 2>/dev/null || cp "$wheel" "$ctx/wheels/"
fi

rmr="${RMR_TARBALL:-$root/../shared/vendor/rmr/rmr-4.9.4.tar.gz}"
if [ -f "$rmr" ]; then
    cp "$rmr" "$ctx/rmr/rmr-4.9.4.tar.gz"
else
    say "fetching RMR 4.9.4 from GitHub"
    curl -fsSL -o "$ctx/rmr/rmr-4.9.4.tar.gz" \
        https://github.com/o-ran-sc/ric-plt-lib-rmr/archive/refs/tags/4.9.4.tar.gz
fi

for target in "${targets[@]}"; do
    case "$target" in
        redis | prometheus) file="$root/deploy/docker/Dockerfile.platform" ;;
        e2sim | du-xapp | meta-controller) file="$root/deploy/docker/Dockerfile" ;;
        *) say "unknown target $target"; exit 2 ;;
    esac
    say "building metahrl/$target:$tag on $base"
    docker build --network host --quiet --build-arg BASE_IMAGE="$base" --target "$target" \
        -f "$file" -t "metahrl/$target:$tag" "$ctx" >/dev/null
    echo "metahrl/$target:$tag"
done
