{{/*
Naming follows the OSC onboarder's xapp-std chart, so a chart installed from here and one that
`dms_cli onboard` generates from the same descriptor yield the same objects:
  name      = .Values.name, else the chart name            (also the pod's hostname)
  fullname  = <namespace>-<name>                            (the Deployment)
  services  = service-<fullname>-rmr (ports named rmr*), service-<fullname>-<port name> (others)
  configmap = configmap-<fullname>-appconfig (descriptor), configmap-<fullname>-appenv (env)
*/}}
{{- define "metahrl.name" -}}
{{- default .Chart.Name .Values.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "metahrl.namespace" -}}
{{- .Release.Namespace -}}
{{- end -}}

{{- define "metahrl.fullname" -}}
{{- printf "%s-%s" (include "metahrl.namespace" .) (include "metahrl.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "metahrl.servicename" -}}
{{- printf "service-%s" (include "metahrl.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "metahrl.configmapname" -}}
{{- printf "configmap-%s" (include "metahrl.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The selector of xapp-std: app=<namespace>-<name>, release=<release>. */}}
{{- define "metahrl.selectorLabels" -}}
app: {{ include "metahrl.namespace" . }}-{{ include "metahrl.name" . }}
release: {{ .Release.Name }}
{{- end -}}

{{- define "metahrl.labels" -}}
{{ include "metahrl.selectorLabels" . }}
chart: {{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
heritage: {{ .Release.Service }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: oran-metahrl
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/*
Deep-merge .src into .dst in place. Unlike sprig's mergeOverwrite, a false / 0 / "" in .src
does replace the value in .dst (mergo skips "empty" values, which would silently ignore an
override such as `learning: {explore: false}`). Lists are replaced, not concatenated.
*/}}
{{- define "metahrl.merge" -}}
{{- $dst := .dst -}}
{{- range $key, $value := .src -}}
{{- if and (kindIs "map" $value) (kindIs "map" (get $dst $key)) -}}
{{- include "metahrl.merge" (dict "dst" (get $dst $key) "src" $value) -}}
{{- else -}}
{{- $_ := set $dst $key $value -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Non-root, no privilege escalation, read-only root file system, no capabilities. */}}
{{- define "metahrl.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsUser }}
fsGroup: {{ .Values.securityContext.runAsUser }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "metahrl.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "metahrl.image" -}}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.repository (toString .Values.image.tag) -}}
{{- end -}}

{{/* The Prometheus scrape annotations of the descriptor, as pod annotations. */}}
{{- define "metahrl.podAnnotations" -}}
{{- range $key, $value := .annotations }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* The descriptor's probes, as Kubernetes probes (the onboarder copies them verbatim). */}}
{{- define "metahrl.probes" -}}
{{- with .livenessProbe }}
livenessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .readinessProbe }}
readinessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
