{{/*
The alerting and recording rules: the one source of the PrometheusRule and of
deploy/prometheus/inferprobe-rules.yml (rendered with the default values by
`go generate` in deploy/validate). Thresholds come from .Values.alerts.
Prometheus templates in annotations are quoted for Helm with {{`...`}}.
*/}}

{{/* Where a unit-level alert is: the unit, its pod when it has one, the node. */}}
{{- define "inferprobe.where" -}}
{{`unit {{ $labels.unit }}{{ with $labels.pod }} (pod {{ $labels.namespace }}/{{ . }}){{ end }} on {{ $labels.instance }}`}}
{{- end }}

{{/* Where a GPU alert is. */}}
{{- define "inferprobe.gpu" -}}
{{`GPU {{ $labels.gpu }} ({{ $labels.name }}, {{ $labels.uuid }}) on {{ $labels.instance }}`}}
{{- end }}

{{- define "inferprobe.rules" -}}
{{- $a := .Values.alerts }}
{{- $runbook := $a.runbookURL }}
{{- $crit := $a.severity.critical }}
{{- $warn := $a.severity.warning }}
groups:
  # Latency quantiles per serving unit, from the classic histogram buckets.
  - name: inferprobe.recording
    rules:
      {{- range $m := list "ttft" "tpot" }}
      {{- range $q := list "50" "95" "99" }}
      - record: unit:inferprobe_request_{{ $m }}_seconds:p{{ $q }}_rate5m
        expr: |-
          histogram_quantile(0.{{ $q }},
            sum by (job, instance, node, namespace, pod, container, unit, le) (
              rate(inferprobe_request_{{ $m }}_seconds_bucket[5m])))
      {{- end }}
      {{- end }}

  - name: inferprobe.requests
    rules:
      {{- range $r := list (list "TTFT" "ttft" "95" $a.slo.ttftP95Seconds "time to first token") (list "TTFT" "ttft" "99" $a.slo.ttftP99Seconds "time to first token") (list "TPOT" "tpot" "95" $a.slo.tpotP95Seconds "time per output token") (list "TPOT" "tpot" "99" $a.slo.tpotP99Seconds "time per output token") }}
      {{- $name := printf "Inferprobe%sP%sHigh" (index $r 0) (index $r 2) }}
      - alert: {{ $name }}
        # SLO: alerts.slo.{{ index $r 1 }}P{{ index $r 2 }}Seconds
        expr: unit:inferprobe_request_{{ index $r 1 }}_seconds:p{{ index $r 2 }}_rate5m > {{ index $r 3 }}
        for: {{ $a.slo.for }}
        labels:
          severity: {{ $warn }}
        annotations:
          summary: {{ index $r 0 }} P{{ index $r 2 }} above its {{ index $r 3 }}s objective
          description: >-
            The P{{ index $r 2 }} {{ index $r 4 }} of {{ include "inferprobe.where" $ }} has been
            {{`{{ $value | humanizeDuration }}`}} over the last 5 minutes, above the {{ index $r 3 }}s objective.
          runbook_url: {{ $runbook }}#{{ lower $name }}
      {{- end }}

      - alert: InferprobeQueueDepthHigh
        # alerts.queueDepth
        expr: inferprobe_requests_waiting > {{ $a.queueDepth }}
        for: {{ $a.queueDepthFor }}
        labels:
          severity: {{ $warn }}
        annotations:
          summary: More than {{ $a.queueDepth }} requests waiting for their first token
          description: >-
            {{`{{ $value }}`}} requests of {{ include "inferprobe.where" . }} have arrived and
            not yet received a first token.
          runbook_url: {{ $runbook }}#inferprobequeuedepthhigh

      - alert: InferprobeRateLimitedBurst
        # alerts.rateLimitedPerSecond
        expr: |-
          sum by (job, instance, node, namespace, pod, container, unit) (
            rate(inferprobe_requests_total{class="rate_limited"}[2m])) > {{ $a.rateLimitedPerSecond }}
        for: {{ $a.errorBurstFor }}
        labels:
          severity: {{ $warn }}
        annotations:
          summary: Burst of HTTP 429 (rate limited) responses
          description: >-
            {{ include "inferprobe.where" . }} has been answering
            {{`{{ $value | humanize }}`}} requests per second with 429.
          runbook_url: {{ $runbook }}#inferproberatelimitedburst

      - alert: InferprobeContextLengthErrors
        # alerts.contextLengthPerSecond
        expr: |-
          sum by (job, instance, node, namespace, pod, container, unit) (
            rate(inferprobe_requests_total{class="context_length"}[2m])) > {{ $a.contextLengthPerSecond }}
        for: {{ $a.errorBurstFor }}
        labels:
          severity: {{ $warn }}
        annotations:
          summary: Burst of requests rejected for exceeding the context length
          description: >-
            {{ include "inferprobe.where" . }} has been rejecting
            {{`{{ $value | humanize }}`}} requests per second whose prompt and output exceed the model's context.
          runbook_url: {{ $runbook }}#inferprobecontextlengtherrors

  - name: inferprobe.cuda
    rules:
      - alert: InferprobeCUDAStickyFault
        expr: |-
          max by (job, instance, node, namespace, pod, container, unit) (inferprobe_unit_faulted) > 0
          or
          sum by (job, instance, node, namespace, pod, container, unit) (
            increase(inferprobe_cuda_errors_total{class="sticky_fault"}[5m])) > 0
        labels:
          severity: {{ $crit }}
        annotations:
          summary: Sticky CUDA fault; the process must restart
          description: >-
            A GPU process of {{ include "inferprobe.where" . }} got a sticky CUDA error (illegal
            address, launch failure, assert...): its CUDA context is unusable until it restarts.
          runbook_url: {{ $runbook }}#inferprobecudastickyfault

      - alert: InferprobeCUDAOutOfMemory
        # alerts.oomPerRequest; the second half catches the first OOM of a unit, whose
        # counter series is born at 1 and so has no increase yet.
        expr: |-
          (
            sum by (job, instance, node, namespace, pod, container, unit) (
              rate(inferprobe_cuda_errors_total{class="oom"}[5m]))
          /
            sum by (job, instance, node, namespace, pod, container, unit) (
              rate(inferprobe_requests_total[5m]))
          ) > {{ $a.oomPerRequest }}
          or
          sum by (job, instance, node, namespace, pod, container, unit) (
            inferprobe_cuda_errors_total{class="oom"}
              unless inferprobe_cuda_errors_total{class="oom"} offset 5m) > 0
        labels:
          severity: {{ $warn }}
        annotations:
          summary: CUDA out-of-memory errors
          description: >-
            GPU processes of {{ include "inferprobe.where" . }} get CUDA_ERROR_OUT_OF_MEMORY:
            more than {{ mulf $a.oomPerRequest 100 }}% of requests over 5 minutes, or a first one.
          runbook_url: {{ $runbook }}#inferprobecudaoutofmemory

      - alert: InferprobeGPUWaitStalled
        # alerts.gpuWaitSeconds
        expr: |-
          max by (job, instance, node, namespace, pod, container, unit) (
            inferprobe_gpu_wait_in_flight_seconds) > {{ $a.gpuWaitSeconds }}
          or
          max by (job, instance, node, namespace, pod, container, unit) (
            inferprobe_gpu_stalled_waits) > 0
        labels:
          severity: {{ $crit }}
        annotations:
          summary: A host thread has been waiting on the GPU for too long
          description: >-
            A blocking CUDA wait of {{ include "inferprobe.where" . }} has been in flight for more
            than {{ $a.gpuWaitSeconds }}s or past the agent's stall threshold: the GPU is hung, or a
            collective waits on a dead peer.
          runbook_url: {{ $runbook }}#inferprobegpuwaitstalled

  - name: inferprobe.gpu
    rules:
      - alert: InferprobeGPUMemoryNearlyFull
        # alerts.vramUsedRatio
        expr: inferprobe_gpu_memory_used_bytes / inferprobe_gpu_memory_total_bytes > {{ $a.vramUsedRatio }}
        for: {{ $a.vramFor }}
        labels:
          severity: {{ $warn }}
        annotations:
          summary: GPU memory above {{ mulf $a.vramUsedRatio 100 }}%
          description: >-
            {{ include "inferprobe.gpu" . }} has {{`{{ $value | humanizePercentage }}`}} of its
            memory in use.
          runbook_url: {{ $runbook }}#inferprobegpumemorynearlyfull

      - alert: InferprobeGPUTemperatureHigh
        # alerts.temperatureCelsius
        expr: inferprobe_gpu_temperature_celsius > {{ $a.temperatureCelsius }}
        for: {{ $a.temperatureFor }}
        labels:
          severity: {{ $warn }}
        annotations:
          summary: GPU above {{ $a.temperatureCelsius }} C
          description: >-
            {{ include "inferprobe.gpu" . }} has been at {{`{{ $value }}`}} C for
            {{ $a.temperatureFor }}.
          runbook_url: {{ $runbook }}#inferprobegputemperaturehigh

      - alert: InferprobeGPUThermalThrottling
        expr: |-
          max by (job, instance, node, gpu, uuid, name) (
            inferprobe_gpu_throttle_active{reason=~"hw_thermal_slowdown|sw_thermal_slowdown"}) > 0
        for: {{ $a.throttleFor }}
        labels:
          severity: {{ $warn }}
        annotations:
          summary: GPU clocks throttled for heat
          description: >-
            {{ include "inferprobe.gpu" . }} has been slowing its clocks for temperature
            (hardware or software thermal slowdown) for {{ $a.throttleFor }}.
          runbook_url: {{ $runbook }}#inferprobegputhermalthrottling

      - alert: InferprobeGPUXidError
        # The second half catches a new XID code, whose series is born at 1.
        expr: |-
          sum by (job, instance, node, gpu, uuid, name, xid) (
            increase(inferprobe_gpu_xid_errors_total[5m])) > 0
          or
          sum by (job, instance, node, gpu, uuid, name, xid) (
            inferprobe_gpu_xid_errors_total unless inferprobe_gpu_xid_errors_total offset 5m) > 0
        labels:
          severity: {{ $crit }}
        annotations:
          summary: {{`GPU XID {{ $labels.xid }} error`}}
          description: >-
            The NVIDIA driver reported XID {{`{{ $labels.xid }}`}} on {{ include "inferprobe.gpu" . }}.
          runbook_url: {{ $runbook }}#inferprobegpuxiderror

  - name: inferprobe.agent
    rules:
      - alert: InferprobeAgentDown
        expr: up{job="{{ $a.job }}"} == 0
        for: 5m
        labels:
          severity: {{ $warn }}
        annotations:
          summary: inferprobe agent unreachable
          description: >-
            Prometheus has not scraped the inferprobe agent at {{`{{ $labels.instance }}`}} for
            5 minutes: the node's inference and GPU metrics are missing.
          runbook_url: {{ $runbook }}#inferprobeagentdown

      - alert: InferprobeAgentDroppingEvents
        # alerts.droppedEventsPerSecond
        expr: rate(inferprobe_agent_dropped_events_total[5m]) > {{ $a.droppedEventsPerSecond }}
        for: {{ $a.droppedEventsFor }}
        labels:
          severity: {{ $warn }}
        annotations:
          summary: inferprobe agent losing kernel events
          description: >-
            The agent at {{`{{ $labels.instance }}`}} loses {{`{{ $value | humanize }}`}} ring-buffer
            records per second: request and step metrics on this node undercount.
          runbook_url: {{ $runbook }}#inferprobeagentdroppingevents

      - alert: InferprobeAgentLostTargets
        # GPU processes hold memory (NVML) but the agent has probes in none of them.
        expr: |-
          max by (job, instance, node) (inferprobe_agent_attached_processes) == 0
          and on (job, instance)
          count by (job, instance, node) (inferprobe_gpu_process_memory_bytes) > 0
        for: {{ $a.lostTargetsFor }}
        labels:
          severity: {{ $warn }}
        annotations:
          summary: inferprobe agent has no GPU process attached
          description: >-
            Processes on {{`{{ $labels.instance }}`}} use the GPU but the agent has no libcuda probes
            attached to any of them: steps, CUDA errors and stalls are not measured.
          runbook_url: {{ $runbook }}#inferprobeagentlosttargets

      - alert: InferprobeAgentAttachErrors
        expr: increase(inferprobe_agent_attach_errors_total[10m]) > 0
        for: {{ $a.lostTargetsFor }}
        labels:
          severity: {{ $warn }}
        annotations:
          summary: inferprobe agent failing to attach probes
          description: >-
            The agent at {{`{{ $labels.instance }}`}} failed {{`{{ $value | humanize }}`}} attaches in
            the last 10 minutes: some GPU processes are not measured.
          runbook_url: {{ $runbook }}#inferprobeagentattacherrors
{{- end }}
