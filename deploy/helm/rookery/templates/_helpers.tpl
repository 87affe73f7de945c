{{/* The release's name for every object, cut to Kubernetes' 63 characters. */}}
{{- define "rookery.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object; selector labels of one app (server, persister, webhooks, web). */}}
{{- define "rookery.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "rookery.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .app }}
{{- end -}}

{{/* The image of one app: <repository>-<app>:<tag>, as the Dockerfile builds them. */}}
{{- define "rookery.image" -}}
{{- printf "%s-%s:%s" .root.Values.image.repository .app (.root.Values.image.tag | default .root.Chart.AppVersion) -}}
{{- end -}}

{{/* The Secret holding the connection URLs and passwords. */}}
{{- define "rookery.secret" -}}
{{- .Values.external.existingSecret | default (printf "%s-external" (include "rookery.fullname" .)) -}}
{{- end -}}

{{/* Environment of an app: its settings from values, then the connections from the Secret. */}}
{{- define "rookery.env" -}}
{{- range $k, $v := .config }}
{{- if ne (toString $v) "" }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end }}
{{- range .secretKeys }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ include "rookery.secret" $.root }}
      key: {{ . }}
      optional: {{ has . (list "KAFKA_SASL_PASSWORD" "JWT_HS256_SECRET") }}
{{- end }}
- name: KAFKA_BROKERS
  value: {{ required "external.kafkaBrokers is required" .root.Values.external.kafkaBrokers | quote }}
{{- end -}}

{{/* Pod settings shared by the apps. */}}
{{- define "rookery.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "rookery.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
{{- end -}}
