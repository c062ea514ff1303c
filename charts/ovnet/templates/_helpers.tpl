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

{{/* The image reference: [registry/]repository:tag[@digest]. */}}
{{- define "ovnet.image" -}}
{{- with .Values.image.registry }}{{ trimSuffix "/" . }}/{{ end -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- with .Values.image.digest }}@{{ . }}{{ end -}}
{{- end -}}

{{/* imagePullSecrets of a pod spec, nothing when there are none. */}}
{{- define "ovnet.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Namespace of the leader election lease. */}}
{{- define "ovnet.leaseNamespace" -}}
{{ .Release.Namespace }}
{{- end -}}

{{/* "true" when OVN central runs as a Raft cluster (ovn.central.replicas
     above 1), empty otherwise; fails unless ovn.central.nodeIPs lists one
     address per member. */}}
{{- define "ovnet.centralRaft" -}}
{{- $central := .Values.ovn.central -}}
{{- if and $central.enabled (gt (int $central.replicas) 1) -}}
{{- if ne (len $central.nodeIPs) (int $central.replicas) -}}
{{- fail (printf "ovn.central.replicas=%d needs ovn.central.nodeIPs listing the %d members' node addresses" (int $central.replicas) (int $central.replicas)) -}}
{{- end -}}
true
{{- end -}}
{{- end -}}

{{/* A node address as OVSDB remotes write it: IPv6 in brackets. */}}
{{- define "ovnet.hostInRemote" -}}
{{- if contains ":" . }}[{{ . }}]{{ else }}{{ . }}{{ end -}}
{{- end -}}

{{/* Every Raft member at one port, comma-separated, as ovn-controller's
     ovn-remote, ovn-northd and ovnet-controller take them:
     include "ovnet.centralRemote" (list . port). */}}
{{- define "ovnet.centralRemote" -}}
{{- $port := index . 1 -}}
{{- $remotes := list -}}
{{- range (index . 0).Values.ovn.central.nodeIPs -}}
{{- $remotes = append $remotes (printf "tcp:%s:%v" (include "ovnet.hostInRemote" .) $port) -}}
{{- end -}}
{{ join "," $remotes }}
{{- end -}}

{{/* The NB address the controller uses. The Service's environment variables
     are set by the kubelet because the Service exists before the pod. The
     host is bracketed because a ClusterIP may be IPv6; OVS and libovsdb
     both take an IPv4 address in brackets too. */}}
{{- define "ovnet.nbAddress" -}}
{{- if .Values.ovn.nbAddress -}}
{{ .Values.ovn.nbAddress }}
{{- else if include "ovnet.centralRaft" . -}}
{{ include "ovnet.centralRemote" (list . .Values.ovn.nbPort) }}
{{- else if .Values.ovn.central.enabled -}}
tcp:[$(OVN_NB_SERVICE_HOST)]:$(OVN_NB_SERVICE_PORT)
{{- else -}}
{{- fail "ovn.central.enabled=false needs ovn.nbAddress" -}}
{{- end -}}
{{- end -}}

{{/* The SB address every node's ovn-controller uses, found like the NB
     address: the ovn-sb Service's environment variables unless set. */}}
{{- define "ovnet.sbAddress" -}}
{{- if .Values.ovn.sbAddress -}}
{{ .Values.ovn.sbAddress }}
{{- else if include "ovnet.centralRaft" . -}}
{{ include "ovnet.centralRemote" (list . .Values.ovn.sbPort) }}
{{- else if .Values.ovn.central.enabled -}}
tcp:[$(OVN_SB_SERVICE_HOST)]:$(OVN_SB_SERVICE_PORT)
{{- else -}}
{{- fail "ovn.central.enabled=false needs ovn.sbAddress" -}}
{{- end -}}
{{- end -}}

{{/* The rules of one object of a role.yaml that controller-gen writes from
     the code's +kubebuilder:rbac markers (`make generate`):
     include "ovnet.generatedRules" (list . "rbac/daemon/role.yaml" "Role" "kube-node-lease").
     The markers' namespaces are placeholders the templates map to values;
     a missing object fails the render, so a marker and its template cannot
     drift apart silently. */}}
{{- define "ovnet.generatedRules" -}}
{{- $root := index . 0 -}}
{{- $file := index . 1 -}}
{{- $kind := index . 2 -}}
{{- $namespace := index . 3 -}}
{{- $rules := list -}}
{{- $found := false -}}
{{- range $doc := splitList "---\n" ($root.Files.Get $file) -}}
{{- $obj := fromYaml $doc -}}
{{- if and (eq (get $obj "kind" | default "") $kind) (eq (dig "metadata" "namespace" "" $obj) $namespace) -}}
{{- $rules = get $obj "rules" -}}
{{- $found = true -}}
{{- end -}}
{{- end -}}
{{- if not $found -}}
{{- fail (printf "%s has no %s in namespace %q: run make generate" $file $kind $namespace) -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}

{{/* The containers of OVN's daemons (ovsdb-server, ovn-northd,
     ovn-controller): root, to own the databases and sockets the other
     containers and the host's tools share, but no capability at all and
     the runtime's seccomp profile. They only read and write their files and
     talk OVSDB and OpenFlow; run as root with every capability dropped and
     no_new_privs (setpriv), they serve, compute flows and register a
     chassis as usual. */}}
{{- define "ovnet.ovnSecurityContext" -}}
runAsUser: 0
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The environment that points client-go's in-cluster configuration at
     apiServer.host instead of the kubernetes Service; nothing when unset. */}}
{{- define "ovnet.apiServerEnv" -}}
{{- if .Values.apiServer.host -}}
- name: KUBERNETES_SERVICE_HOST
  value: {{ .Values.apiServer.host | quote }}
- name: KUBERNETES_SERVICE_PORT
  value: {{ .Values.apiServer.port | default 6443 | quote }}
{{- else if .Values.apiServer.port }}
{{- fail "apiServer.port needs apiServer.host" }}
{{- end }}
{{- end -}}
