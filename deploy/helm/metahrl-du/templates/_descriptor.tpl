{{/*
The OSC descriptor this release runs with: files/config-file.json (the one `dms_cli onboard`
takes) with this release's name, image and the `controls` overrides of the values merged in.
*/}}
{{- define "du.descriptor" -}}
{{- $d := .Files.Get "files/config-file.json" | fromJson -}}
{{- $name := include "metahrl.name" . -}}
{{- $ns := include "metahrl.namespace" . -}}
{{- $_ := set $d "name" $name -}}
{{- $c := index $d "controls" -}}
{{- $_ := set $c "name" $name -}}
{{- $_ := set (index $c "subscription") "clientEndpoint" (printf "%s-http.%s" (include "metahrl.servicename" .) $ns) -}}
{{- include "metahrl.merge" (dict "dst" $c "src" (deepCopy .Values.controls)) -}}
{{- $image := dict "registry" .Values.image.registry "name" .Values.image.repository "tag" (toString .Values.image.tag) -}}
{{- $_ := set (index $d.containers 0) "image" $image -}}
{{- toJson $d -}}
{{- end -}}

{{/* Direct E2 (nodes connect to the xApp itself): the E2 listen port, else nothing. */}}
{{- define "du.e2port" -}}
{{- $c := (include "du.descriptor" . | fromJson).controls -}}
{{- if eq (default "direct" $c.e2.mode) "direct" -}}
{{- required "controls.e2.listen_port: the E2 listen port of direct mode" $c.e2.listen_port | int -}}
{{- end -}}
{{- end -}}
