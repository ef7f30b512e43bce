{{/* Names. The fullname is the release name, so Services are `<release>-distributor` as with tempo-distributed's usual install. */}}
{{- define "andante.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "andante.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "andante.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* `<fullname>-<component>`; call with (dict "ctx" $ "component" "distributor"). */}}
{{- define "andante.resourceName" -}}
{{- printf "%s-%s" (include "andante.fullname" .ctx) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "andante.selectorLabels" -}}
app.kubernetes.io/name: {{ include "andante.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{- define "andante.labels" -}}
helm.sh/chart: {{ include "andante.chart" .ctx }}
{{ include "andante.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: andante
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{- define "andante.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "andante.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "andante.image" -}}
{{- $img := .Values.tempo.image -}}
{{- $registry := coalesce .Values.global.image.registry $img.registry -}}
{{- $tag := coalesce $img.tag .Chart.AppVersion | toString -}}
{{- if $registry -}}{{ printf "%s/%s:%s" $registry $img.repository $tag }}{{- else -}}{{ printf "%s:%s" $img.repository $tag }}{{- end -}}
{{- end -}}

{{/*
The components: name (Tempo's -target), values key, workload kind. The metrics-generator only when
enabled.
*/}}
{{- define "andante.components" -}}
distributor: { key: distributor, kind: Deployment }
ingester: { key: ingester, kind: StatefulSet }
querier: { key: querier, kind: Deployment }
query-frontend: { key: queryFrontend, kind: Deployment }
compactor: { key: compactor, kind: Deployment }
{{- if .Values.metricsGenerator.enabled }}
metrics-generator: { key: metricsGenerator, kind: StatefulSet }
{{- end }}
{{- end -}}

{{/* A value that would put a credential in a manifest is refused unless it is an env reference (`${VAR}`). */}}
{{- define "andante.noLiteralSecret" -}}
{{- if and .value (not (regexMatch "^\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}$" (toString .value))) -}}
{{- fail (printf "%s: a literal credential would be stored in a ConfigMap; put it in a Secret, add it to each component's extraEnv (valueFrom.secretKeyRef) and write ${VAR} here (the pods run with -config.expand-env=true)" .path) -}}
{{- end -}}
{{- end -}}

{{- define "andante.etcdEndpoints" -}}
{{- if .Values.etcd.enabled -}}
{{- list (printf "%s:2379" (include "andante.resourceName" (dict "ctx" . "component" "etcd"))) | toJson -}}
{{- else -}}
{{- $eps := .Values.ring.etcd.endpoints | default list -}}
{{- if not $eps -}}
{{- fail "ring.etcd.endpoints: the rings need etcd; list its client endpoints, or set etcd.enabled=true for a single-node trial etcd" -}}
{{- end -}}
{{- $eps | toJson -}}
{{- end -}}
{{- end -}}

{{/* Every ring's kvstore block (Tempo's keys; dskit's etcd client settings). */}}
{{- define "andante.kvstore" -}}
{{- $e := .Values.ring.etcd -}}
{{- include "andante.noLiteralSecret" (dict "path" "ring.etcd.password" "value" $e.password) -}}
kvstore:
  store: etcd
  prefix: {{ $e.prefix | quote }}
  etcd:
    endpoints: {{ include "andante.etcdEndpoints" . }}
    dial_timeout: {{ $e.dial_timeout | quote }}
    {{- with $e.username }}
    username: {{ . | quote }}
    {{- end }}
    {{- with $e.password }}
    password: {{ . | quote }}
    {{- end }}
    {{- if $e.tls_enabled }}
    tls_enabled: true
    tls_cert_path: {{ $e.tls_cert_path | quote }}
    tls_key_path: {{ $e.tls_key_path | quote }}
    tls_ca_path: {{ $e.tls_ca_path | quote }}
    {{- end }}
{{- end -}}

{{/* tempo.yaml before tempo.structuredConfig is merged over it. One config for every component; -target picks. */}}
{{- define "andante.config" -}}
{{- $s3 := .Values.storage.trace.s3 -}}
{{- if eq .Values.storage.trace.backend "s3" -}}
{{- $_ := required "storage.trace.s3.bucket: required when storage.trace.backend is s3" $s3.bucket -}}
{{- end -}}
{{- range $k := list "access_key" "secret_key" "session_token" -}}
{{- include "andante.noLiteralSecret" (dict "path" (printf "storage.trace.s3.%s" $k) "value" (get $s3 $k)) -}}
{{- end -}}
multitenancy_enabled: {{ .Values.multitenancyEnabled }}
server:
  http_listen_port: {{ .Values.server.httpListenPort }}
  grpc_listen_port: {{ .Values.server.grpcListenPort }}
  log_level: {{ .Values.server.logLevel }}
  grpc_server_max_recv_msg_size: {{ .Values.server.grpc_server_max_recv_msg_size | int64 }}
  grpc_server_max_send_msg_size: {{ .Values.server.grpc_server_max_send_msg_size | int64 }}
distributor:
  receivers:
    otlp:
      protocols:
        {{- if .Values.traces.otlp.grpc.enabled }}
        grpc:
          endpoint: 0.0.0.0:4317
        {{- end }}
        {{- if .Values.traces.otlp.http.enabled }}
        http:
          endpoint: 0.0.0.0:4318
        {{- end }}
  ring:
    {{- include "andante.kvstore" . | nindent 4 }}
ingester:
  lifecycler:
    ring:
      replication_factor: {{ .Values.ingester.config.replication_factor | int }}
      {{- include "andante.kvstore" . | nindent 6 }}
  {{- range $k := list "trace_idle_period" "flush_check_period" "max_block_bytes" "max_block_duration" "complete_block_timeout" }}
  {{- with (get $.Values.ingester.config $k) }}
  {{ $k }}: {{ . }}
  {{- end }}
  {{- end }}
{{- with .Values.querier.config.frontend_worker }}
{{- if .enabled }}
querier:
  frontend_worker:
    frontend_address: {{ include "andante.resourceName" (dict "ctx" $ "component" "query-frontend-discovery") }}:{{ $.Values.server.grpcListenPort }}
{{- end }}
{{- end }}
{{- with .Values.queryFrontend.config }}
query_frontend:
  {{- toYaml . | nindent 2 }}
{{- end }}
compactor:
  compaction:
    {{- toYaml .Values.compactor.config.compaction | nindent 4 }}
  ring:
    {{- include "andante.kvstore" . | nindent 4 }}
metrics_generator:
  ring:
    {{- include "andante.kvstore" . | nindent 4 }}
  {{- if .Values.metricsGenerator.enabled }}
  {{- with .Values.metricsGenerator.config }}
  registry:
    {{- toYaml .registry | nindent 4 }}
  processor:
    {{- toYaml .processor | nindent 4 }}
  storage:
    {{- toYaml .storage | nindent 4 }}
  metrics_ingestion_time_range_slack: {{ .metrics_ingestion_time_range_slack }}
  {{- end }}
  {{- end }}
storage:
  trace:
    backend: {{ .Values.storage.trace.backend }}
    {{- if eq .Values.storage.trace.backend "s3" }}
    s3:
      {{- toYaml $s3 | nindent 6 }}
    {{- end }}
    local:
      path: /var/tempo/traces
    wal:
      path: /var/tempo/wal
    blocklist_poll: {{ .Values.storage.trace.blocklist_poll }}
overrides:
  {{- with .Values.global_overrides.defaults }}
  defaults:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  per_tenant_override_config: /runtime-config/overrides.yaml
  per_tenant_override_period: {{ .Values.global_overrides.per_tenant_override_period }}
{{- end -}}

{{/* The rendered tempo.yaml: the generated config with tempo.structuredConfig merged over it. */}}
{{- define "andante.configYaml" -}}
{{- $cfg := include "andante.config" . | fromYaml -}}
{{- if hasKey $cfg "Error" -}}
{{- fail (printf "internal: the generated tempo.yaml does not parse: %s" $cfg.Error) -}}
{{- end -}}
{{- toYaml (mustMergeOverwrite $cfg (deepCopy .Values.tempo.structuredConfig)) -}}
{{- end -}}

{{/* One component's workload; call with (dict "ctx" $ "component" "ingester" "key" "ingester" "kind" "StatefulSet"). */}}
{{- define "andante.workload" -}}
{{- $ctx := .ctx -}}
{{- $c := .component -}}
{{- $v := index $ctx.Values .key -}}
{{- $name := include "andante.resourceName" (dict "ctx" $ctx "component" $c) -}}
{{- $sel := dict "ctx" $ctx "component" $c -}}
{{- $persistent := and (eq .kind "StatefulSet") (dig "persistence" "enabled" false $v) -}}
{{- $autoscaled := dig "autoscaling" "enabled" false $v -}}
apiVersion: apps/v1
kind: {{ .kind }}
metadata:
  name: {{ $name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "andante.labels" $sel | nindent 4 }}
spec:
  {{- if not $autoscaled }}
  replicas: {{ $v.replicas }}
  {{- end }}
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      {{- include "andante.selectorLabels" $sel | nindent 6 }}
  {{- if eq .kind "StatefulSet" }}
  # Stable pod names are the ring's instance IDs; one pod at a time, in order, on rollouts.
  serviceName: {{ $name }}
  podManagementPolicy: OrderedReady
  updateStrategy:
    type: RollingUpdate
  {{- if $persistent }}
  persistentVolumeClaimRetentionPolicy:
    whenDeleted: Retain
    whenScaled: Retain
  {{- end }}
  {{- else }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "andante.labels" $sel | nindent 8 }}
        {{- with $ctx.Values.tempo.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "andante.configYaml" $ctx | sha256sum }}
        {{- with $ctx.Values.tempo.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "andante.serviceAccountName" $ctx }}
      automountServiceAccountToken: {{ $ctx.Values.serviceAccount.automountServiceAccountToken }}
      enableServiceLinks: false
      {{- with $ctx.Values.global.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- toYaml $ctx.Values.tempo.podSecurityContext | nindent 8 }}
      {{- with concat $ctx.Values.global.image.pullSecrets $ctx.Values.tempo.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
      containers:
        - name: {{ $c }}
          image: {{ include "andante.image" $ctx }}
          imagePullPolicy: {{ $ctx.Values.tempo.image.pullPolicy }}
          args:
            - -target={{ $c }}
            - -config.file=/conf/tempo.yaml
            {{- if $ctx.Values.configExpandEnv }}
            - -config.expand-env=true
            {{- end }}
            {{- range $v.extraArgs }}
            - {{ . | quote }}
            {{- end }}
          {{- with $v.extraEnv }}
          env:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $v.extraEnvFrom }}
          envFrom:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          ports:
            - name: http-metrics
              containerPort: {{ $ctx.Values.server.httpListenPort }}
              protocol: TCP
            - name: grpc
              containerPort: {{ $ctx.Values.server.grpcListenPort }}
              protocol: TCP
            {{- if eq $c "distributor" }}
            {{- if $ctx.Values.traces.otlp.grpc.enabled }}
            - name: otlp-grpc
              containerPort: 4317
              protocol: TCP
            {{- end }}
            {{- if $ctx.Values.traces.otlp.http.enabled }}
            - name: otlp-http
              containerPort: 4318
              protocol: TCP
            {{- end }}
            {{- end }}
          readinessProbe:
            {{- toYaml $ctx.Values.tempo.readinessProbe | nindent 12 }}
          livenessProbe:
            {{- toYaml $ctx.Values.tempo.livenessProbe | nindent 12 }}
          startupProbe:
            {{- toYaml $ctx.Values.tempo.startupProbe | nindent 12 }}
          {{- with $v.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            {{- toYaml $ctx.Values.tempo.securityContext | nindent 12 }}
          volumeMounts:
            - name: config
              mountPath: /conf
              readOnly: true
            - name: runtime-config
              mountPath: /runtime-config
              readOnly: true
            - name: data
              mountPath: /var/tempo
            - name: tmp
              mountPath: /tmp
            {{- with $v.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumes:
        - name: config
          configMap:
            name: {{ include "andante.resourceName" (dict "ctx" $ctx "component" "config") }}
        - name: runtime-config
          configMap:
            name: {{ include "andante.resourceName" (dict "ctx" $ctx "component" "runtime") }}
        - name: tmp
          emptyDir: {}
        {{- if not $persistent }}
        - name: data
          emptyDir: {}
        {{- end }}
        {{- with $v.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  {{- if $persistent }}
  volumeClaimTemplates:
    - metadata:
        name: data
        {{- with $v.persistence.annotations }}
        annotations:
          {{- toYaml . | nindent 10 }}
        {{- end }}
      spec:
        accessModes:
          - ReadWriteOnce
        {{- with $v.persistence.storageClass }}
        storageClassName: {{ if eq . "-" }}""{{ else }}{{ . }}{{ end }}
        {{- end }}
        resources:
          requests:
            storage: {{ $v.persistence.size }}
  {{- end }}
{{- end -}}
