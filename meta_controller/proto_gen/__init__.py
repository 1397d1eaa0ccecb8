"""Generated gRPC/protobuf stubs of proto/metahrl.proto (proto/regenerate.sh; do not edit)."""
