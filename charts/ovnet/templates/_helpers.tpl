{{/* Labels every object of the release carries. */}}
{{- define "ovnet.labels" -}}
app.kubernetes.io/name: ovnet
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: include "ovnet.selector" (list . "controller"). */}}
{{- define "ovnet.selector" -}}
app.kubernetes.io/name: ovnet
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "ovnet.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Namespace of the leader election lease. */}}
{{- define "ovnet.leaseNamespace" -}}
{{ .Release.Namespace }}
{{- end -}}

{{/* The NB address the controller uses. The Service's environment variables
     are set by the kubelet because the Service exists before the pod. */}}
{{- define "ovnet.nbAddress" -}}
{{- if .Values.ovn.nbAddress -}}
{{ .Values.ovn.nbAddress }}
{{- else -}}
tcp:$(OVN_NB_SERVICE_HOST):$(OVN_NB_SERVICE_PORT)
{{- end -}}
{{- end -}}

{{/* The SB address every node's ovn-controller uses, found like the NB
     address: the ovn-sb Service's environment variables unless set. */}}
{{- define "ovnet.sbAddress" -}}
{{- if .Values.ovn.sbAddress -}}
{{ .Values.ovn.sbAddress }}
{{- else if .Values.ovn.central.enabled -}}
tcp:$(OVN_SB_SERVICE_HOST):$(OVN_SB_SERVICE_PORT)
{{- else -}}
{{- fail "ovn.central.enabled=false needs ovn.sbAddress" -}}
{{- end -}}
{{- end -}}
