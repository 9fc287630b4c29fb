{{- define "babelgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "babelgate.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "babelgate.labels" -}}
{{ include "babelgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "babelgate.secretName" -}}
{{- if .Values.secrets.create -}}{{ include "babelgate.fullname" . }}{{- else -}}{{ .Values.secrets.existingSecret }}{{- end -}}
{{- end -}}

{{/* The gateway's config file: the chart's part (server, store, redis, auth, alerts), then `config`. */}}
{{- define "babelgate.config" -}}
{{- $base := dict "server" (dict "host" "0.0.0.0" "port" 8080 "api_keys" (list "env:BABELGATE_GATEWAY_KEY") "master_key" "env:BABELGATE_MASTER_KEY" "log_format" "json" "shutdown_timeout" 30) -}}
{{- if .Values.postgres.enabled }}{{- $_ := set $base "store" (dict "url" "env:BABELGATE_STORE_URL") -}}{{- end -}}
{{- if .Values.redis.enabled }}{{- $_ := set $base "redis" (dict "url" "env:BABELGATE_REDIS_URL") -}}{{- end -}}
{{- if .Values.oidc.enabled -}}
{{- $oidc := dict "issuer" .Values.oidc.issuer "client_id" .Values.oidc.clientId "client_secret" "env:BABELGATE_OIDC_CLIENT_SECRET" "redirect_url" .Values.oidc.redirectUrl -}}
{{- if .Values.oidc.roles }}{{- $_ := set $oidc "roles" .Values.oidc.roles -}}{{- end -}}
{{- $_ := set $base "auth" (dict "oidc" $oidc) -}}
{{- end -}}
{{- if .Values.alerts }}{{- $_ := set $base "alerts" .Values.alerts -}}{{- end -}}
{{- toYaml (mustMergeOverwrite $base (deepCopy .Values.config)) -}}
{{- end -}}
