#!/usr/bin/env bash
# Regenerate the committed gRPC stubs of proto/metahrl.proto into meta_controller/proto_gen/.
# The generator is pinned (grpcio-tools 1.62.3: its stubs load under protobuf 3.20 and 7.x;
# grpcio at run time must be >= 1.62.3) and runs in a throwaway venv, never the project's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
venv="${PROTOC_VENV:-${TMPDIR:-/tmp}/metahrl-protoc-venv}"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "grpcio-tools==1.62.3"
fi
out="$root/meta_controller/proto_gen"
mkdir -p "$out"
"$venv/bin/python" -m grpc_tools.protoc -I "$here" \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" "$here/metahrl.proto"
# grpc_tools writes `import metahrl_pb2`; make it a package-relative import.
sed -i 's/^import metahrl_pb2 as metahrl__pb2$/from meta_controller.proto_gen import metahrl_pb2 as metahrl__pb2/' \
  "$out/metahrl_pb2_grpc.py"
echo "stubs written to $out"
