{{/* The image every gpuop role runs: repository/image:version, version defaulting to appVersion;
a version that is a digest (sha256:..., as a release's chart carries) gives repository/image@digest,
as NVIDIA's chart does. */}}
{{- define "gpuop.image" -}}
{{- $version := .Values.operator.version | default .Chart.AppVersion -}}
{{- $name := .Values.operator.image -}}
{{- if .Values.operator.repository -}}
{{- $name = printf "%s/%s" .Values.operator.repository .Values.operator.image -}}
{{- end -}}
{{ $name }}{{ ternary "@" ":" (hasPrefix "sha256:" $version) }}{{ $version }}
{{- end -}}

{{/* The release's version as a label value: operator.version, unless it is a digest (a label
cannot hold "sha256:..."), then the chart's appVersion; "+" made "_" and cut to 63 characters,
as label values must be. */}}
{{- define "gpuop.versionLabel" -}}
{{- $version := .Values.operator.version | default .Chart.AppVersion -}}
{{- if hasPrefix "sha256:" $version }}{{ $version = .Chart.AppVersion }}{{ end -}}
{{- $version | replace "+" "_" | trunc 63 | trimSuffix "-" | trimSuffix "." | trimSuffix "_" -}}
{{- end -}}

{{- define "gpuop.labels" -}}
app.kubernetes.io/name: gpuop
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "gpuop.versionLabel" . | quote }}
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

{{/* The sandbox mode the ClusterPolicy gets. sandboxWorkloads.mode when it is set. When it is
empty: kata if kataManager.enabled or ccManager.enabled is true (NVIDIA's install lines for
Kata and Confidential Containers), else kubevirt (NVIDIA's default). */}}
{{- define "gpuop.sandboxMode" -}}
{{- $mode := .Values.sandboxWorkloads.mode | default "" -}}
{{- if $mode -}}
{{ $mode }}
{{- else if or .Values.kataManager.enabled .Values.ccManager.enabled -}}
kata
{{- else -}}
kubevirt
{{- end -}}
{{- end -}}

{{/* Why gpuop.sandboxMode chose what it did, in a few words, for NOTES.txt. */}}
{{- define "gpuop.sandboxModeReason" -}}
{{- if .Values.sandboxWorkloads.mode -}}
set by sandboxWorkloads.mode
{{- else if and .Values.kataManager.enabled .Values.ccManager.enabled -}}
sandboxWorkloads.mode is empty and kataManager and ccManager are enabled
{{- else if .Values.kataManager.enabled -}}
sandboxWorkloads.mode is empty and kataManager is enabled
{{- else if .Values.ccManager.enabled -}}
sandboxWorkloads.mode is empty and ccManager is enabled
{{- else -}}
NVIDIA's default: sandboxWorkloads.mode is empty, kataManager and ccManager are off
{{- end -}}
{{- end -}}
