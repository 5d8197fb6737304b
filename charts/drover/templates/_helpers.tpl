{{/* The chart's name. */}}
{{- define "drover.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the prefix of every object's name. */}}
{{- define "drover.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "drover.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "drover.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: drover
{{- end }}

{{/* The manager's pods. */}}
{{- define "drover.selectorLabels" -}}
app.kubernetes.io/name: {{ include "drover.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end }}

{{- define "drover.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-manager" (include "drover.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "drover.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "drover.runtimeExtension.serviceName" -}}
{{- printf "%s-runtime-extension" (include "drover.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Secret with the Runtime Extension's serving certificate. */}}
{{- define "drover.runtimeExtension.secretName" -}}
{{- if .Values.runtimeExtension.certificate.certManager.enabled }}
{{- printf "%s-runtime-extension-cert" (include "drover.fullname" .) }}
{{- else }}
{{- required "runtimeExtension.certificate.existingSecret is required when certManager.enabled is false" .Values.runtimeExtension.certificate.existingSecret }}
{{- end }}
{{- end }}

{{- define "drover.runtimeExtension.certDir" -}}
/var/run/drover/runtime-extension
{{- end }}

{{/* The Secret with the CA bundle of the client certificates allowed to call the Runtime Extension. */}}
{{- define "drover.runtimeExtension.clientCASecret" -}}
{{- required "runtimeExtension.clientAuth.caSecret is required: the Runtime Extension only answers callers with a client certificate of that CA (see docs/platform-team-guide.md)" .Values.runtimeExtension.clientAuth.caSecret }}
{{- end }}

{{- define "drover.runtimeExtension.clientCADir" -}}
/var/run/drover/runtime-extension-client-ca
{{- end }}

{{- define "drover.metrics.certDir" -}}
/var/run/drover/metrics
{{- end }}

{{/* The manager's flags (cmd/manager; docs/traffic.md, "Manager flags"), as a YAML list. */}}
{{- define "drover.args" -}}
{{- $v := .Values }}
{{- $a := list (printf "--leader-elect=%t" $v.leaderElection.enabled) }}
{{- with $v.leaderElection.namespace }}
{{- $a = append $a (printf "--leader-election-namespace=%s" .) }}
{{- end }}
{{- $a = append $a (printf "--leader-elect-lease-duration=%s" $v.leaderElection.leaseDuration) }}
{{- $a = append $a (printf "--leader-elect-renew-deadline=%s" $v.leaderElection.renewDeadline) }}
{{- $a = append $a (printf "--leader-elect-retry-period=%s" $v.leaderElection.retryPeriod) }}
{{- $a = append $a (printf "--metrics-bind-address=:%d" (int $v.metrics.port)) }}
{{- $a = append $a (printf "--metrics-secure=%t" $v.metrics.secure) }}
{{- if $v.metrics.certSecret }}
{{- $a = append $a (printf "--metrics-cert-path=%s" (include "drover.metrics.certDir" .)) }}
{{- end }}
{{- $a = append $a (printf "--health-probe-bind-address=:%d" (int $v.probes.port)) }}
{{- $a = append $a (printf "--zap-log-level=%v" $v.logLevel) }}
{{- $a = append $a (printf "--traffic-provider=%s" $v.traffic.provider) }}
{{- if or (eq $v.traffic.provider "route53") $v.mirror.nlb.vpcID }}
{{- $a = append $a (printf "--owner-id=%s" (required "ownerID: name this installation, uniquely among the drover installations sharing the AWS account and hosted zones (one installed with an earlier chart used drover: keep it to keep its records and NLBs)" $v.ownerID)) }}
{{- else if $v.ownerID }}
{{- $a = append $a (printf "--owner-id=%s" $v.ownerID) }}
{{- end }}
{{- if $v.tenancy.singleTeam }}
{{- $a = append $a "--single-team" }}
{{- end }}
{{- with $v.tenancy.defaults }}
{{- with .gateNetworks }}
{{- $a = append $a (printf "--gate-networks=%s" (join "," .)) }}
{{- end }}
{{- with .octaviaProjects }}
{{- $a = append $a (printf "--default-octavia-projects=%s" (join "," .)) }}
{{- end }}
{{- end }}
{{- with $v.watchFilter }}
{{- $a = append $a (printf "--watch-filter=%s" .) }}
{{- end }}
{{- with $v.prometheusAddress }}
{{- $a = append $a (printf "--prometheus-address=%s" .) }}
{{- end }}
{{- with $v.pprof }}
{{- $a = append $a (printf "--pprof=%s" .) }}
{{- end }}
{{- with $v.aws.region }}
{{- $a = append $a (printf "--aws-region=%s" .) }}
{{- end }}
{{- with $v.aws.endpoints.elbv2 }}
{{- $a = append $a (printf "--aws-elbv2-endpoint=%s" .) }}
{{- end }}
{{- with $v.aws.endpoints.route53 }}
{{- $a = append $a (printf "--aws-route53-endpoint=%s" .) }}
{{- end }}
{{- with $v.mirror.nlb }}
{{- if .vpcID }}
{{- if not .subnets }}
{{- fail "mirror.nlb.subnets: an NLB needs at least one subnet of mirror.nlb.vpcID" }}
{{- end }}
{{- $a = append $a (printf "--nlb-vpc-id=%s" .vpcID) }}
{{- $a = append $a (printf "--nlb-subnets=%s" (join "," .subnets)) }}
{{- if .scheme }}
{{- $a = append $a (printf "--nlb-scheme=%s" .scheme) }}
{{- end }}
{{- end }}
{{- end }}
{{- $a = append $a (printf "--mirror-poll-interval=%s" $v.mirror.pollInterval) }}
{{- with $v.openstack }}
{{- if .octaviaEndpoint }}
{{- $a = append $a (printf "--octavia-endpoint=%s" .octaviaEndpoint) }}
{{- with .octaviaProjectID }}
{{- $a = append $a (printf "--octavia-project-id=%s" .) }}
{{- end }}
{{- else if .cloud }}
{{- $a = append $a (printf "--os-cloud=%s" .cloud) }}
{{- end }}
{{- end }}
{{- if $v.runtimeExtension.enabled }}
{{- $a = append $a (printf "--runtime-extension-port=%d" (int $v.runtimeExtension.port)) }}
{{- $a = append $a (printf "--runtime-extension-cert-dir=%s" (include "drover.runtimeExtension.certDir" .)) }}
{{- $_ := include "drover.runtimeExtension.clientCASecret" . }}
{{- $a = append $a (printf "--runtime-extension-client-ca-file=%s/%s" (include "drover.runtimeExtension.clientCADir" .) $v.runtimeExtension.clientAuth.caKey) }}
{{- with $v.runtimeExtension.clientAuth.allowedNames }}
{{- $a = append $a (printf "--runtime-extension-client-names=%s" (join "," .)) }}
{{- end }}
{{- $a = append $a (printf "--runtime-extension-namespace-selector=%s" (toJson (default (dict) (dig "namespaceSelector" nil $v.runtimeExtension.extensionConfig)))) }}
{{- if $v.runtimeExtension.surge }}
{{- $a = append $a "--runtime-extension-surge" }}
{{- end }}
{{- end }}
{{- range $v.extraArgs }}
{{- $a = append $a (toString .) }}
{{- end }}
{{- toYaml $a }}
{{- end }}
