{{/*
Names and labels shared by every template. The four components (catalog, auth, user,
gateway) each have a block of the same shape in values.yaml; the templates that treat
them alike range over "kinoarchive.services" and look the block up by name.
*/}}

{{/* The Python services, in the order their Deployments are written. */}}
{{- define "kinoarchive.services" -}}
catalog auth user
{{- end }}

{{- define "kinoarchive.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's prefix: the release name alone when it already holds the chart's name
(helm install kinoarchive ...), else release-chart. Names add up to 16 characters
("-catalog-migrate"), so it is cut to leave them room within a DNS label (63).
*/}}
{{- define "kinoarchive.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 46 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 46 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 46 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* A component's name: (dict "root" $ "component" "catalog") -> kinoarchive-catalog */}}
{{- define "kinoarchive.componentName" -}}
{{- printf "%s-%s" (include "kinoarchive.fullname" .root) .component }}
{{- end }}

{{- define "kinoarchive.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* What selects a component's pods: never changes after the first install. */}}
{{- define "kinoarchive.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kinoarchive.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "kinoarchive.labels" -}}
helm.sh/chart: {{ include "kinoarchive.chart" .root }}
{{ include "kinoarchive.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: kinoarchive
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/* A component's image: (dict "root" $ "values" .Values.catalog) */}}
{{- define "kinoarchive.image" -}}
{{- $global := .root.Values.image }}
{{- $repository := .values.image.repository }}
{{- if $global.registry }}
{{- $repository = printf "%s/%s" $global.registry $repository }}
{{- end }}
{{- printf "%s:%s" $repository (default .root.Chart.AppVersion $global.tag) }}
{{- end }}

{{/* A service's Service address inside the cluster, as host:port. */}}
{{- define "kinoarchive.serviceAddress" -}}
{{- printf "%s.%s.svc.%s:%d" (include "kinoarchive.componentName" .) .root.Release.Namespace .root.Values.clusterDomain (int .root.Values.servicePort) }}
{{- end }}

{{/*
A container's security context: no root, no capabilities, no way to gain any, nothing
written to the image (what docker-compose.yml's x-hardening block does).
*/}}
{{- define "kinoarchive.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "kinoarchive.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
A Python service's environment: (dict "root" $ "component" "auth"). The fixed settings
of a deployment (as docker-compose.yml fixes them), then the component's env block of
values.yaml, then the secrets, read from the existing Secret (never from values.yaml).
*/}}
{{- define "kinoarchive.serviceEnv" -}}
{{- $root := .root }}
{{- $values := index $root.Values .component }}
{{- $prefix := upper .component -}}
- name: {{ $prefix }}_ENVIRONMENT
  value: production
- name: {{ $prefix }}_LOG_FORMAT
  value: json
{{- if eq .component "user" }}
- name: USER_CATALOG_URL
  value: http://{{ include "kinoarchive.serviceAddress" (dict "root" $root "component" "catalog") }}
- name: USER_AUTH_URL
  value: http://{{ include "kinoarchive.serviceAddress" (dict "root" $root "component" "auth") }}
{{- end }}
{{- range $name, $value := $values.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- if ne .component "catalog" }}
{{- range $name, $value := $root.Values.jwt }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
- name: {{ $prefix }}_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.existingSecret }}
      key: {{ $prefix }}_DATABASE_URL
{{- if eq .component "auth" }}
- name: AUTH_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.existingSecret }}
      key: AUTH_REDIS_URL
{{- end }}
{{- if ne .component "catalog" }}
- name: JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.existingSecret }}
      key: JWT_SECRET
- name: INTERNAL_API_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.existingSecret }}
      key: INTERNAL_API_TOKEN
# During a key rotation (SECURITY.md): the key being retired, still accepted.
- name: JWT_PREVIOUS_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.existingSecret }}
      key: JWT_PREVIOUS_SECRET
      optional: true
{{- end }}
{{- end }}

{{/* Node choice, and a component's replicas spread over nodes where possible. */}}
{{- define "kinoarchive.scheduling" -}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "kinoarchive.selectorLabels" . | nindent 8 }}
{{- with .root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
checkov's checks (make check-helm) that do not apply here, each with its reason, as the
annotations checkov reads: (list "CKV_K8S_43" ...). Any other failed check fails CI.
*/}}
{{- define "kinoarchive.checkovSkips" -}}
{{- $reasons := dict
  "CKV_K8S_43" "the images are built from this repository and pushed under image.tag for each release: no digest exists when the chart is written"
  "CKV_K8S_15" "release tags are never reused, so IfNotPresent pulls each image once; Always would also refuse images loaded into the nodes directly (kind, minikube). image.pullPolicy changes it"
  "CKV_K8S_35" "the services read every setting from environment variables (pydantic-settings, as under compose); these come from the existing Secret, never from values.yaml"
  "CKV_K8S_40" "nginx runs as the gateway image's own unprivileged user, uid 101 (gateway/Dockerfile), as under compose: non-root, no capabilities, read-only root"
-}}
{{- range $index, $check := . }}
checkov.io/skip{{ add1 $index }}: {{ printf "%s=%s" $check (index $reasons $check) | quote }}
{{- end }}
{{- end }}
