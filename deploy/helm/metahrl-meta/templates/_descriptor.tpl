{{/* files/config-file.json with this release's name, image and `controls` overrides. */}}
{{- define "meta.descriptor" -}}
{{- $d := .Files.Get "files/config-file.json" | fromJson -}}
{{- $_ := set $d "name" (include "metahrl.name" .) -}}
{{- include "metahrl.merge" (dict "dst" (index $d "controls") "src" (deepCopy .Values.controls)) -}}
{{- $image := dict "registry" .Values.image.registry "name" .Values.image.repository "tag" (toString .Values.image.tag) -}}
{{- $_ := set (index $d.containers 0) "image" $image -}}
{{- toJson $d -}}
{{- end -}}

{{/*
The `metahrl meta-controller` arguments for the descriptor's controls (flag names: its --help).
Settings without a flag are refused here rather than silently dropped.
*/}}
{{- define "meta.args" -}}
{{- $c := (include "meta.descriptor" . | fromJson).controls -}}
{{- $flags := dict "listen" "--listen" "init" "--init" "sdl" "--sdl" "namespace" "--namespace" "keep_versions" "--keep-versions" "sdl_check_s" "--sdl-check" "push_concurrency" "--push-concurrency" "tls_cert" "--tls-cert" "tls_key" "--tls-key" "tls_client_ca" "--tls-client-ca" "tokens" "--tokens" -}}
{{- $meta := dict "scheme" "--scheme" "beta" "--beta" "beta_actor" "--beta-actor" "temperature" "--temperature" "normalise" "--normalise" "task_grad_clip" "--task-grad-clip" -}}
{{- $rounds := dict "min_updates" "--min-updates" "quorum_fraction" "--quorum-fraction" "round_timeout_s" "--round-timeout" "stack_dtype" "--stack-dtype" -}}
{{- $args := list "meta-controller" -}}
{{- range $key, $value := $c -}}
{{- if hasKey $flags $key -}}
{{- if not (kindIs "invalid" $value) -}}
{{- $args = concat $args (list (get $flags $key) (include "meta.str" $value)) -}}
{{- end -}}
{{- else if eq $key "http" -}}
{{- $args = concat $args (list "--http" (ternary "off" (toString $value) (kindIs "invalid" $value))) -}}
{{- else if eq $key "insecure" -}}
{{- if $value }}{{ $args = append $args "--insecure" }}{{ end -}}
{{- else if or (eq $key "meta") (eq $key "rounds") -}}
{{- $table := ternary $meta $rounds (eq $key "meta") -}}
{{- range $sub, $v := $value -}}
{{- if not (hasKey $table $sub) -}}
{{- fail (printf "controls.%s.%s has no meta-controller flag; it cannot be set from the chart" $key $sub) -}}
{{- end -}}
{{- if not (kindIs "invalid" $v) -}}
{{- $args = concat $args (list (get $table $sub) (include "meta.str" $v)) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- fail (printf "controls.%s has no meta-controller flag; it cannot be set from the chart" $key) -}}
{{- end -}}
{{- end -}}
{{- $args = concat $args (list "--log-level" .Values.logLevel) -}}
{{- toJson $args -}}
{{- end -}}

{{/* A value as a flag argument: whole numbers without an exponent (JSON numbers are float64). */}}
{{- define "meta.str" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) -}}
{{- int64 . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}
