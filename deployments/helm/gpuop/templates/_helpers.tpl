{{/* The image every gpuop role runs: repository/image:version, version defaulting to appVersion. */}}
{{- define "gpuop.image" -}}
{{- $version := .Values.operator.version | default .Chart.AppVersion -}}
{{- if .Values.operator.repository -}}
{{ .Values.operator.repository }}/{{ .Values.operator.image }}:{{ $version }}
{{- else -}}
{{ .Values.operator.image }}:{{ $version }}
{{- end -}}
{{- end -}}

{{- define "gpuop.labels" -}}
app.kubernetes.io/name: gpuop
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.operator.version | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gpuop
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "gpuop.operatorSelector" -}}
app.kubernetes.io/name: gpuop
app.kubernetes.io/component: operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* An operand section of the ClusterPolicy: the keys gpuop reads, only those set. */}}
{{- define "gpuop.operandSpec" -}}
{{- $section := . -}}
{{- range $key := list "enabled" "repository" "image" "version" "imagePullPolicy" "defaultMode" }}
{{- if hasKey $section $key }}
{{ $key }}: {{ index $section $key | toJson }}
{{- end }}
{{- end }}
{{- range $key := list "imagePullSecrets" "env" "args" }}
{{- if index $section $key }}
{{ $key }}: {{ index $section $key | toJson }}
{{- end }}
{{- end }}
{{- if $section.resources }}
resources: {{ $section.resources | toJson }}
{{- end }}
{{- if $section.config }}
config: {{ $section.config | toJson }}
{{- end }}
{{- end -}}

{{/* An operand section with NVIDIA's fields beyond the common ones: what gpuop.operandSpec
renders, plus each of `keys` the section sets, as it is. Takes (dict "section" S "keys" K). */}}
{{- define "gpuop.operandSpecWith" -}}
{{- $spec := include "gpuop.operandSpec" .section | fromYaml | default dict -}}
{{- range $key := .keys }}
{{- if hasKey $.section $key }}
{{- $_ := set $spec $key (index $.section $key) }}
{{- end }}
{{- end }}
{{- toJson $spec -}}
{{- end -}}
