{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "tessera.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* RELEASE-tessera, or fullnameOverride. */}}
{{- define "tessera.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tessera.allocatorName" -}}{{ include "tessera.fullname" . | trunc 53 | trimSuffix "-" }}-allocator{{- end -}}
{{- define "tessera.agentName" -}}{{ include "tessera.fullname" . | trunc 57 | trimSuffix "-" }}-agent{{- end -}}

{{/* The Secret holding the agents' join token. */}}
{{- define "tessera.joinTokenSecret" -}}
{{- if .Values.joinToken.existingSecret -}}
{{- .Values.joinToken.existingSecret -}}
{{- else -}}
{{- include "tessera.fullname" . | trunc 52 | trimSuffix "-" }}-join-token
{{- end -}}
{{- end -}}

{{/* The allocator URL agents dial: the Service's cluster DNS name, https:// under allocator.tls. */}}
{{- define "tessera.allocatorUrl" -}}
{{ ternary "https" "http" .Values.allocator.tls.enabled }}://{{ include "tessera.allocatorName" . }}.{{ .Release.Namespace }}.svc:{{ .Values.allocator.service.port }}
{{- end -}}

{{/* The Secret with the allocator's TLS certificate: allocator.tls.secretName, or the one cert-manager writes. */}}
{{- define "tessera.allocatorTlsSecret" -}}
{{- if .Values.allocator.tls.secretName -}}
{{- .Values.allocator.tls.secretName -}}
{{- else -}}
{{- include "tessera.allocatorName" . | trunc 59 | trimSuffix "-" }}-tls
{{- end -}}
{{- end -}}

{{/* Where the allocator's TLS files and the agents' CA file are mounted. */}}
{{- define "tessera.tlsDir" -}}/etc/tessera/tls{{- end -}}
{{- define "tessera.caFile" -}}/etc/tessera/ca/ca.crt{{- end -}}

{{- define "tessera.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "tessera.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels for one component (allocator or agent): pass (dict "ctx" $ "component" "agent"). */}}
{{- define "tessera.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tessera.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tessera.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{- define "tessera.agentImage" -}}
{{ default .Values.image.repository .Values.agent.image.repository }}:{{ default (default .Chart.AppVersion .Values.image.tag) .Values.agent.image.tag }}
{{- end -}}

{{/*
Refuses contradictory values with a message naming them. Included by every template, so any render
(install, upgrade, template, lint) stops before it produces a half-valid release.
*/}}
{{- define "tessera.validate" -}}
{{- $a := .Values.allocator -}}
{{- if and (gt (int $a.replicas) 1) (not $a.store.existingSecret) -}}
{{- if not $a.persistence.enabled -}}
{{- fail (printf "allocator.replicas=%v with allocator.persistence.enabled=false: each replica would keep its own throwaway SQLite state. Several allocators need one PostgreSQL (allocator.store.existingSecret); else set allocator.replicas=1." $a.replicas) -}}
{{- end -}}
{{- fail (printf "allocator.replicas=%v needs allocator.store.existingSecret: several allocators share one PostgreSQL (one leads, the others stand by), while SQLite is one writer to one file; name the Secret holding the PostgreSQL URL, or set allocator.replicas=1." $a.replicas) -}}
{{- end -}}
{{- if and $a.ingress.enabled (not $a.ingress.host) -}}
{{- fail "allocator.ingress.enabled=true needs allocator.ingress.host (the host name the Ingress serves)." -}}
{{- end -}}
{{- if and $a.persistence.enabled $a.persistence.existingClaim $a.persistence.storageClass -}}
{{- fail "allocator.persistence.existingClaim and allocator.persistence.storageClass are both set: the storage class applies only to a claim the chart creates; unset one." -}}
{{- end -}}
{{- if and $a.persistence.enabled (has "ReadWriteMany" $a.persistence.accessModes) -}}
{{- fail "allocator.persistence.accessModes has ReadWriteMany: the SQLite file needs block storage (ReadWriteOnce); shared file systems risk corrupting it." -}}
{{- end -}}
{{- if and .Values.agent.enabled (eq .Values.agent.gpu "sim") .Values.agent.runtimeClassName -}}
{{- fail (printf "agent.gpu=sim with agent.runtimeClassName=%s: simulated GPUs need no NVIDIA runtime, and nodes without GPUs usually lack that runtime class; set agent.runtimeClassName=\"\"." .Values.agent.runtimeClassName) -}}
{{- end -}}
{{- if and .Values.agent.simGpus (ne .Values.agent.gpu "sim") -}}
{{- fail "agent.simGpus is set but agent.gpu is not sim (the agent refuses --sim-gpus without --gpu sim)." -}}
{{- end -}}
{{- if and .Values.joinToken.existingSecret .Values.joinToken.value -}}
{{- fail "joinToken.value and joinToken.existingSecret are both set: the token comes from one or the other." -}}
{{- end -}}
{{- $t := $a.tls -}}
{{- if and $t.enabled (not $t.secretName) (not $t.certManager.issuerRef.name) -}}
{{- fail "allocator.tls.enabled=true needs a certificate: set allocator.tls.secretName to a kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt), or allocator.tls.certManager.issuerRef.name to a cert-manager Issuer that makes one." -}}
{{- end -}}
{{- if and (not $t.enabled) (or $t.secretName $t.certManager.issuerRef.name) -}}
{{- fail "allocator.tls.secretName or allocator.tls.certManager.issuerRef.name is set but allocator.tls.enabled=false: the allocator would serve plain HTTP; set allocator.tls.enabled=true." -}}
{{- end -}}
{{- range $flag := list "--tls-cert" "--tls-key" "--insecure-http" -}}
{{- if has $flag $a.extraArgs -}}
{{- fail (printf "allocator.extraArgs has %s: the chart sets the transport itself from allocator.tls; use allocator.tls.enabled and its secretName or certManager settings." $flag) -}}
{{- end -}}
{{- end -}}
{{- $m := .Values.monitoring.serviceMonitor -}}
{{- if and $m.enabled (has "--metrics-auth" $a.extraArgs) (not $m.authorization.secretName) -}}
{{- fail "allocator.extraArgs has --metrics-auth but monitoring.serviceMonitor.authorization.secretName is empty: Prometheus would be refused (401) on every scrape; name a Secret holding a user token with a role on cluster." -}}
{{- end -}}
{{- end -}}
