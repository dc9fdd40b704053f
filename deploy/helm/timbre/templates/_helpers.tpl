{{/* vim: set filetype=mustache: */}}

{{- define "timbre.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "timbre.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "timbre.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "timbre.selectorLabels" -}}
app.kubernetes.io/name: {{ include "timbre.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "timbre.labels" -}}
helm.sh/chart: {{ include "timbre.chart" . }}
{{ include "timbre.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: timbre
{{- end -}}

{{/* Labels of one component: (dict "root" $ "name" "synthesis-worker") */}}
{{- define "timbre.componentSelectorLabels" -}}
{{ include "timbre.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "timbre.componentLabels" -}}
{{ include "timbre.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "timbre.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "timbre.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The processes, and the facts about each that the code fixes (kit/config.py ports, who calls whom:
gateway/clients.py calls every edge; every service fetches tenancy's JWKS (kit/clients/tenancy.py),
synthesis and embedding also reserve quotas there; synthesis workers read the voices' samples from the
embedding edges, which alone hold their keys: services/synthesis/adapters/samples.py; the embedding
edges read a voice's usage from billing for the voice owner's portal: services/embedding/adapters/owner_view.py). Keys are the values' component keys.
  role: TIMBRE_ROLE (edge | worker) where the service has both
  db/kafka/s3/models: which stores it reaches
  secrets: watermark (TIMBRE_WATERMARK_KEY), service (TIMBRE_SERVICE_SECRET), operator, stripe,
    dataKek (TIMBRE_DATA_KEK: wraps the voices' data keys, encryption at rest)
  calls: the components whose gRPC API it calls (NetworkPolicy ingress of those is derived from this)
*/}}
{{- define "timbre.components" -}}
tenancy:
  name: tenancy
  service: tenancy
  module: services.tenancy.main
  grpcPort: 50051
  metricsPort: 9101
  api: true
  db: true
  kafka: true
  s3: false
  models: false
  secrets: [service, operator]
  calls: []
billing:
  name: billing
  service: billing
  module: services.billing.main
  grpcPort: 50055
  metricsPort: 9105
  api: true
  db: true
  kafka: true
  s3: true
  models: false
  stripe: true
  secrets: [stripe]
  calls: [tenancy]
watermark:
  name: watermark
  service: watermark
  module: services.watermark.main
  grpcPort: 50054
  metricsPort: 9104
  api: true
  db: true
  kafka: true
  s3: false
  models: false
  secrets: [watermark]
  calls: [tenancy]
embedding:
  name: embedding
  service: embedding
  module: services.embedding.main
  role: edge
  grpcPort: 50052
  metricsPort: 9102
  api: true
  db: true
  kafka: true
  s3: true
  models: true
  secrets: [watermark, service, dataKek]
  calls: [tenancy, billing]
embeddingWorker:
  name: embedding-worker
  service: embedding
  module: services.embedding.main
  role: worker
  grpcPort: 50052
  metricsPort: 9102
  api: false
  db: true
  kafka: true
  s3: true
  models: true
  secrets: [watermark, service, dataKek]
  calls: [tenancy]
synthesis:
  name: synthesis
  service: synthesis
  module: services.synthesis.main
  role: edge
  grpcPort: 50053
  metricsPort: 9103
  api: true
  db: true
  kafka: true
  s3: true
  models: true
  secrets: [watermark, service, dataKek]
  calls: [tenancy]
synthesisWorker:
  name: synthesis-worker
  service: synthesis
  module: services.synthesis.worker_pool
  role: worker
  jobPool: shared
  grpcPort: 50053
  metricsPort: 9103
  api: false
  db: true
  kafka: true
  s3: true
  models: true
  webhooks: true
  secrets: [watermark, service, dataKek]
  calls: [tenancy, embedding]
synthesisWorkerDedicated:
  name: synthesis-worker-dedicated
  service: synthesis
  module: services.synthesis.worker_pool
  role: worker
  jobPool: dedicated
  grpcPort: 50053
  metricsPort: 9103
  api: false
  db: true
  kafka: true
  s3: true
  models: true
  webhooks: true
  secrets: [watermark, service, dataKek]
  calls: [tenancy, embedding]
gateway:
  name: gateway
  module: gateway.main
  httpPort: 8080
  api: true
  db: false
  kafka: false
  s3: false
  models: false
  secrets: []
  calls: [tenancy, billing, embedding, watermark, synthesis]
{{- end -}}

{{/* The image of a component: (dict "root" $ "v" <component values>) → repository:<version>-<variant>[@digest]
(tagFormat "variant": repository:<variant>, the local builds' tags of scripts/build_images.sh). */}}
{{- define "timbre.image" -}}
{{- $img := .root.Values.image -}}
{{- $variant := (.v.image | default dict).variant | default $img.variant -}}
{{- $version := $img.tag | default .root.Chart.AppVersion -}}
{{- $tag := ternary $variant (printf "%s-%s" $version $variant) (eq ($img.tagFormat | default "version-variant") "variant") -}}
{{- $digest := index ($img.digests | default dict) $variant | default "" -}}
{{- if $digest -}}
{{- printf "%s:%s@%s" $img.repository $tag $digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* A gRPC target over a headless Service (clients balance round_robin over its addresses). */}}
{{- define "timbre.grpcAddr" -}}
{{- $c := index (include "timbre.components" .root | fromYaml) .key -}}
{{- printf "dns:///%s-%s.%s.svc.cluster.local:%v" (include "timbre.fullname" .root) $c.name .root.Release.Namespace $c.grpcPort -}}
{{- end -}}

{{- define "timbre.kafkaClusterName" -}}
{{- .Values.operators.kafka.clusterName | default (printf "%s-kafka" (include "timbre.fullname" .)) -}}
{{- end -}}

{{- define "timbre.pgClusterName" -}}
{{- .Values.operators.postgres.clusterName | default (printf "%s-pg" (include "timbre.fullname" .)) -}}
{{- end -}}

{{- define "timbre.kafkaBootstrap" -}}
{{- if .Values.operators.kafka.enabled -}}
{{- printf "%s-kafka-bootstrap.%s.svc.cluster.local:9092" (include "timbre.kafkaClusterName" .) .Release.Namespace -}}
{{- else -}}
{{- required "kafka.bootstrap is required (host:port of the Kafka brokers)" .Values.kafka.bootstrap -}}
{{- end -}}
{{- end -}}

{{/* TIMBRE_DATABASE_URL: from a Secret holding the whole URL, or composed from parts + a password Secret. */}}
{{- define "timbre.databaseEnv" -}}
{{- $db := .Values.database -}}
{{- if .Values.operators.postgres.enabled }}
- name: TIMBRE_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ printf "%s-app" (include "timbre.pgClusterName" .) }}
      key: password
- name: TIMBRE_DATABASE_URL
  value: {{ printf "postgresql+psycopg://%s:$(TIMBRE_DB_PASSWORD)@%s-rw.%s.svc.cluster.local:5432/%s" $db.compose.user (include "timbre.pgClusterName" .) .Release.Namespace $db.compose.name | quote }}
{{- else if $db.compose.enabled }}
- name: TIMBRE_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ required "database.compose.passwordSecret is required: the existing Secret with the PostgreSQL password" $db.compose.passwordSecret }}
      key: {{ $db.compose.passwordKey }}
- name: TIMBRE_DATABASE_URL
  value: {{ printf "postgresql+psycopg://%s:$(TIMBRE_DB_PASSWORD)@%s:%v/%s" $db.compose.user (required "database.compose.host is required" $db.compose.host) $db.compose.port $db.compose.name | quote }}
{{- else }}
- name: TIMBRE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret is required: the existing Secret holding TIMBRE_DATABASE_URL (postgresql+psycopg://user:password@host:5432/timbre) under database.urlKey" $db.existingSecret }}
      key: {{ $db.urlKey }}
{{- end }}
{{- end -}}

{{- define "timbre.kafkaEnv" -}}
- name: TIMBRE_KAFKA_BOOTSTRAP
  value: {{ include "timbre.kafkaBootstrap" . | quote }}
- name: TIMBRE_TOPIC_PREFIX
  value: {{ .Values.config.topicPrefix | quote }}
{{- end -}}

{{/* Settings every Timbre container gets: logging, no env file, writable places under /tmp (the root
filesystem is read-only), local Stripe off. */}}
{{- define "timbre.baseEnv" -}}
- name: TIMBRE_ENVIRONMENT
  value: {{ .Values.config.environment | quote }}
- name: TIMBRE_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: TIMBRE_LOG_FORMAT
  value: json
- name: TIMBRE_ENV_FILE
  value: /dev/null
- name: TIMBRE_STATE_DIR
  value: /tmp/timbre
- name: TIMBRE_STRIPE_LOCAL
  value: "false"
- name: TIMBRE_KAFKA_REPLICATION_FACTOR
  value: {{ .Values.kafka.replicationFactor | default 1 | quote }}
- name: HOME
  value: /tmp
- name: XDG_CACHE_HOME
  value: /tmp/.cache
- name: NUMBA_CACHE_DIR
  value: /tmp/numba
- name: PYTHONDONTWRITEBYTECODE
  value: "1"
{{- end -}}

{{/* The whole env of a component: (dict "root" $ "key" <values key>) */}}
{{- define "timbre.env" -}}
{{- $root := .root -}}
{{- $c := index (include "timbre.components" $root | fromYaml) .key -}}
{{- $v := index $root.Values .key -}}
{{- $prod := $root.Values.production -}}
{{ include "timbre.baseEnv" $root }}
{{- if $c.grpcPort }}
- name: TIMBRE_GRPC_HOST
  value: 0.0.0.0
- name: TIMBRE_GRPC_PORT
  value: {{ $c.grpcPort | quote }}
- name: TIMBRE_METRICS_HOST
  value: 0.0.0.0
- name: TIMBRE_METRICS_PORT
  value: {{ $c.metricsPort | quote }}
{{- end }}
{{- if $c.httpPort }}
- name: TIMBRE_GATEWAY_HOST
  value: 0.0.0.0
- name: TIMBRE_GATEWAY_PORT
  value: {{ $c.httpPort | quote }}
{{- end }}
{{- if $c.role }}
- name: TIMBRE_ROLE
  value: {{ $c.role }}
{{- end }}
{{- if eq $c.service "synthesis" }}
- name: TIMBRE_ENGINE
  value: {{ $root.Values.synthesis.engine | quote }}
- name: TIMBRE_DEDICATED_TIERS
  value: {{ ternary $root.Values.synthesis.dedicatedTiers "" (and $root.Values.synthesisWorkerDedicated.enabled true) | quote }}
{{- if $c.jobPool }}
- name: TIMBRE_JOB_POOL
  value: {{ $c.jobPool }}
{{- end }}
{{- if $v.workerClass }}
- name: TIMBRE_WORKER_CLASS
  value: {{ $v.workerClass | quote }}
{{- end }}
{{- if $v.workersPerGpu }}
- name: TIMBRE_WORKERS_PER_GPU
  value: {{ $v.workersPerGpu | quote }}
{{- end }}
{{- end }}
{{- if $c.models }}
- name: TIMBRE_MODEL_PATH
  value: {{ $root.Values.modelStore.mountPath | quote }}
- name: TIMBRE_TORCH_THREADS
  value: {{ $v.torchThreads | default 1 | quote }}
- name: OMP_NUM_THREADS
  value: {{ $v.torchThreads | default 1 | quote }}
- name: MKL_NUM_THREADS
  value: {{ $v.torchThreads | default 1 | quote }}
{{- end }}
{{- if or $c.grpcPort $c.httpPort }}
- name: TIMBRE_TENANCY_ADDR
  value: {{ include "timbre.grpcAddr" (dict "root" $root "key" "tenancy") | quote }}
{{- end }}
{{- if eq $c.name "gateway" }}
- name: TIMBRE_BILLING_ADDR
  value: {{ include "timbre.grpcAddr" (dict "root" $root "key" "billing") | quote }}
- name: TIMBRE_EMBEDDING_ADDR
  value: {{ include "timbre.grpcAddr" (dict "root" $root "key" "embedding") | quote }}
- name: TIMBRE_WATERMARK_ADDR
  value: {{ include "timbre.grpcAddr" (dict "root" $root "key" "watermark") | quote }}
- name: TIMBRE_SYNTHESIS_ADDR
  value: {{ include "timbre.grpcAddr" (dict "root" $root "key" "synthesis") | quote }}
{{- end }}
{{- if and (ne $c.name "gateway") (has "embedding" $c.calls) }}
- name: TIMBRE_EMBEDDING_ADDR
  value: {{ include "timbre.grpcAddr" (dict "root" $root "key" "embedding") | quote }}
{{- end }}
{{- if and (ne $c.name "gateway") (has "billing" $c.calls) }}
- name: TIMBRE_BILLING_ADDR
  value: {{ include "timbre.grpcAddr" (dict "root" $root "key" "billing") | quote }}
{{- end }}
{{- if $c.kafka }}
{{ include "timbre.kafkaEnv" $root }}
{{- end }}
{{- if $c.db }}
{{- include "timbre.databaseEnv" $root }}
{{- end }}
{{- if $c.s3 }}
{{ include "timbre.objectStoreEnv" $root }}
{{- end }}
{{- $s := $root.Values.secrets }}
{{- if has "watermark" $c.secrets }}
- name: TIMBRE_WATERMARK_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "timbre.appSecret" $root }}
      key: {{ $s.watermarkKeyKey }}
- name: TIMBRE_WATERMARK_STRENGTH_DB
  value: {{ $root.Values.config.watermarkStrengthDb | quote }}
{{- end }}
{{- if has "dataKek" $c.secrets }}
- name: TIMBRE_DATA_KEK
  valueFrom:
    secretKeyRef:
      name: {{ include "timbre.appSecret" $root }}
      key: {{ $s.dataKekKey }}
- name: TIMBRE_DATA_KEK_ID
  value: {{ $root.Values.config.dataKekId | quote }}
- name: TIMBRE_DATA_KEKS_RETIRED
  valueFrom:
    secretKeyRef:
      name: {{ include "timbre.appSecret" $root }}
      key: {{ $s.dataKeksRetiredKey }}
      optional: true
{{- end }}
{{- if has "service" $c.secrets }}
- name: TIMBRE_SERVICE_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "timbre.appSecret" $root }}
      key: {{ $s.serviceSecretKey }}
{{- end }}
{{- if has "operator" $c.secrets }}
- name: TIMBRE_OPERATOR_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "timbre.appSecret" $root }}
      key: {{ $s.operatorSecretKey }}
      {{- if not $prod }}
      optional: true
      {{- end }}
{{- end }}
{{- if has "stripe" $c.secrets }}
{{- $st := $root.Values.stripe }}
{{- if $prod }}
{{- $_ := required "stripe.existingSecret is required when production is true: the existing Secret with Stripe's API key and webhook signing secret (billing)" $st.existingSecret }}
{{- end }}
{{- if $st.existingSecret }}
- name: TIMBRE_STRIPE_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $st.existingSecret }}
      key: {{ $st.apiKeyKey }}
- name: TIMBRE_STRIPE_WEBHOOK_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $st.existingSecret }}
      key: {{ $st.webhookSecretKey }}
{{- end }}
{{- if $st.apiBase }}
- name: TIMBRE_STRIPE_API_BASE
  value: {{ $st.apiBase | quote }}
{{- end }}
{{- end }}
{{- range $name, $value := $root.Values.config.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- range $name, $value := $v.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "timbre.appSecret" -}}
{{- required "secrets.existingSecret is required: the existing Secret holding watermark-key, data-kek, service-secret and operator-secret (see values.yaml: secrets)" .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "timbre.objectStoreEnv" -}}
{{- $o := .Values.objectStore -}}
- name: TIMBRE_STORAGE_BACKEND
  value: s3
- name: TIMBRE_S3_ENDPOINT
  value: {{ required "objectStore.endpoint is required (host:port of the S3 API)" $o.endpoint | quote }}
- name: TIMBRE_S3_BUCKET
  value: {{ $o.bucket | quote }}
- name: TIMBRE_S3_REGION
  value: {{ $o.region | quote }}
- name: TIMBRE_S3_SECURE
  value: {{ $o.secure | toString | quote }}
- name: TIMBRE_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ required "objectStore.existingSecret is required: the existing Secret with the S3 access key id and secret key" $o.existingSecret }}
      key: {{ $o.accessKeyKey }}
- name: TIMBRE_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $o.existingSecret }}
      key: {{ $o.secretKeyKey }}
{{- end -}}

{{- define "timbre.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "timbre.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
privileged: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* A component's values with the shared defaults under them. */}}
{{- define "timbre.componentValues" -}}
{{- $v := index .root.Values .key -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.defaults) (deepCopy $v)) -}}
{{- end -}}

{{/* A NetworkPolicy port list: (list 9092 …) → "- port: 9092\n  protocol: TCP" */}}
{{- define "timbre.ports" -}}
{{- range . }}
- port: {{ . }}
  protocol: TCP
{{- end }}
{{- end -}}

{{/* The model store volume: an existing claim, the chart's claim, or (trying the chart out) an emptyDir. */}}
{{- define "timbre.modelVolume" -}}
{{- $m := .Values.modelStore -}}
{{- if $m.existingClaim -}}
persistentVolumeClaim:
  claimName: {{ $m.existingClaim }}
  readOnly: {{ $m.readOnly }}
{{- else if $m.create.enabled -}}
persistentVolumeClaim:
  claimName: {{ include "timbre.fullname" . }}-models
  readOnly: {{ $m.readOnly }}
{{- else -}}
emptyDir:
  sizeLimit: 5Gi
{{- end -}}
{{- end -}}

{{/* Checks across values that a template's `required` cannot express; each fails with what to set. */}}
{{- define "timbre.validate" -}}
{{- $v := .Values -}}
{{- $_ := include "timbre.appSecret" . -}}
{{- if and $v.synthesisWorkerDedicated.enabled $v.synthesisWorkerDedicated.keda.enabled (lt (int $v.synthesisWorkerDedicated.keda.minReplicaCount) 1) -}}
{{- fail "synthesisWorkerDedicated.keda.minReplicaCount must be at least 1: the dedicated pool serves the enterprise SLA and must not wait for a cold start" -}}
{{- end -}}
{{- if and $v.kafka.sasl.enabled (not $v.kafka.sasl.existingSecret) -}}
{{- fail "kafka.sasl.existingSecret is required when kafka.sasl.enabled: the existing Secret with the SASL username and password (KEDA's TriggerAuthentication)" -}}
{{- end -}}
{{- if and $v.production (not (or $v.modelStore.existingClaim $v.modelStore.create.enabled)) -}}
{{- fail "modelStore.existingClaim (or modelStore.create.enabled) is required when production is true: synthesis and embedding read their models from it" -}}
{{- end -}}
{{- if and $v.operators.kafka.enabled $v.kafka.sasl.enabled -}}
{{- fail "operators.kafka renders a plain internal listener: turn kafka.sasl off, or bring your own Kafka" -}}
{{- end -}}
{{- end -}}

{{/*
Every Kafka topic of kit/events/topics.py (specs_for: the topics, their dead letters, and one outbox
checkpoint topic per service), for the Strimzi KafkaTopics. tests/deploy checks this list against the
code. `timbre migrate` leaves existing topics alone, so these (replicated) ones are the ones used.
*/}}
{{- define "timbre.kafkaTopics" -}}
{{- $day := 86400000 -}}
{{- $jobs := max 6 (int (include "timbre.jobPartitions" .)) -}}
{{- $topics := list
  (dict "name" "timbre.tenant.v1" "partitions" 3 "retentionDays" 30 "dlq" true)
  (dict "name" "timbre.voice.lifecycle.v1" "partitions" 6 "retentionDays" 30 "dlq" true)
  (dict "name" "timbre.generation.lifecycle.v1" "partitions" $jobs "retentionDays" 14 "dlq" true)
  (dict "name" "timbre.generation.dedicated.v1" "partitions" $jobs "retentionDays" 14 "dlq" true)
  (dict "name" "timbre.usage.v1" "partitions" 6 "retentionDays" 90 "dlq" true)
  (dict "name" "timbre.billing.v1" "partitions" 3 "retentionDays" 30 "dlq" true)
-}}
{{- range $t := $topics }}
- name: {{ $t.name }}
  partitions: {{ $t.partitions }}
  config:
    retention.ms: {{ mul $t.retentionDays $day | quote }}
- name: {{ $t.name }}.dlq
  partitions: 1
  config:
    retention.ms: {{ mul 30 $day | quote }}
{{- end }}
- name: timbre.speaker-index.v1
  partitions: 3
  config:
    cleanup.policy: compact
    min.compaction.lag.ms: "0"
    segment.ms: {{ $day | quote }}
{{- range $svc := .Values.operators.services }}
- name: timbre.outbox-checkpoints.{{ $svc }}.v1
  partitions: 1
  config:
    cleanup.policy: compact
{{- end }}
{{- end -}}

{{/* Labels of the operators' custom resources (no app.kubernetes.io/name=timbre: see operators.yaml). */}}
{{- define "timbre.operatorLabels" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: timbre
app.kubernetes.io/name: {{ .name }}
helm.sh/chart: {{ include "timbre.chart" .root }}
{{- end -}}

{{/*
Partitions of the job queues (shared and dedicated): a consumer group runs at most one worker per
partition, so a pool's KEDA maxReplicaCount needs as many. migrations.jobPartitions, or 0: the largest
maxReplicaCount of the autoscaled pools. `timbre migrate --job-partitions` grows the topics to it.
*/}}
{{- define "timbre.jobPartitions" -}}
{{- $n := int .Values.migrations.jobPartitions -}}
{{- if eq $n 0 -}}
{{- range $key := list "synthesisWorker" "synthesisWorkerDedicated" -}}
{{- $v := index $.Values $key -}}
{{- if and $v.enabled $v.keda.enabled (gt (int $v.keda.maxReplicaCount) $n) -}}
{{- $n = int $v.keda.maxReplicaCount -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $n -}}
{{- end -}}
