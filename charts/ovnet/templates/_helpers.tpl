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
     ovn-remote, ovn-northd and ovnet-controller take them (ssl: with
     ovn.tls.enabled): include "ovnet.centralRemote" (list . port). */}}
{{- define "ovnet.centralRemote" -}}
{{- $root := index . 0 -}}
{{- $port := index . 1 -}}
{{- $scheme := include "ovnet.ovnScheme" $root -}}
{{- $remotes := list -}}
{{- range $root.Values.ovn.central.nodeIPs -}}
{{- $remotes = append $remotes (printf "%s:%s:%v" $scheme (include "ovnet.hostInRemote" .) $port) -}}
{{- end -}}
{{ join "," $remotes }}
{{- end -}}

{{/* The NB address the controller uses. The Service's environment variables
     are set by the kubelet because the Service exists before the pod. The
     host is bracketed because a ClusterIP may be IPv6; OVS and libovsdb
     both take an IPv4 address in brackets too. */}}
{{- define "ovnet.nbAddress" -}}
{{- include "ovnet.ovnAddress" (list . "nb") -}}
{{- end -}}

{{/* The SB address every node's ovn-controller uses, found like the NB
     address: the ovn-sb Service's environment variables unless set. */}}
{{- define "ovnet.sbAddress" -}}
{{- include "ovnet.ovnAddress" (list . "sb") -}}
{{- end -}}

{{/* One database's address: include "ovnet.ovnAddress" (list . "nb").
     With ovn.tls.enabled every remote must be ssl:, without it none may
     be: the binaries refuse both at start, the chart before installing. */}}
{{- define "ovnet.ovnAddress" -}}
{{- $root := index . 0 -}}
{{- $db := index . 1 -}}
{{- $key := printf "%sAddress" $db -}}
{{- $address := get $root.Values.ovn $key -}}
{{- $scheme := include "ovnet.ovnScheme" $root -}}
{{- if $address -}}
{{- range $remote := splitList "," $address -}}
{{- if and $root.Values.ovn.tls.enabled (not (hasPrefix "ssl:" $remote)) -}}
{{- fail (printf "ovn.tls.enabled needs ssl: remotes; ovn.%s has %s" $key $remote) -}}
{{- else if and (not $root.Values.ovn.tls.enabled) (hasPrefix "ssl:" $remote) -}}
{{- fail (printf "ovn.%s %s needs ovn.tls.enabled and ovn.tls.secretName (the CA, certificate and key)" $key $remote) -}}
{{- end -}}
{{- end -}}
{{ $address }}
{{- else if include "ovnet.centralRaft" $root -}}
{{ include "ovnet.centralRemote" (list $root (get $root.Values.ovn (printf "%sPort" $db))) }}
{{- else if $root.Values.ovn.central.enabled -}}
{{ $scheme }}:[$(OVN_{{ upper $db }}_SERVICE_HOST)]:$(OVN_{{ upper $db }}_SERVICE_PORT)
{{- else -}}
{{- fail (printf "ovn.central.enabled=false needs ovn.%s" $key) -}}
{{- end -}}
{{- end -}}

{{/* The scheme of every OVSDB address the chart writes, clients' and
     Raft members' alike: ssl with ovn.tls.enabled, else tcp. */}}
{{- define "ovnet.ovnScheme" -}}
{{- ternary "ssl" "tcp" .Values.ovn.tls.enabled -}}
{{- end -}}

{{/* Refuses an upgrade that would turn ovn.tls on or off under running
     Raft clusters: a member's address, scheme included, is in its
     cluster's log, so the members would keep their old links while every
     client switched scheme. Whether the running members are ssl: is read
     from the deployed ovn-central's script (lookup finds nothing in
     `helm template` and on a first install, which are not checked). */}}
{{- define "ovnet.raftSchemeKept" -}}
{{- with lookup "apps/v1" "Deployment" .Release.Namespace "ovn-central" -}}
{{- if gt (int .spec.replicas) 1 -}}
{{- $running := "tcp" -}}
{{- range .spec.template.spec.containers -}}
{{- if contains "proto=ssl\n" (join "\n" .command) -}}{{- $running = "ssl" -}}{{- end -}}
{{- end -}}
{{- $wanted := include "ovnet.ovnScheme" $ -}}
{{- if ne $running $wanted -}}
{{- fail (printf "ovn.tls.enabled=%v would move the running Raft clusters of deployment/ovn-central from %s: to %s: links, which a Raft cluster cannot change in place; keep ovn.tls.enabled=%v (see the README's TLS section)" $.Values.ovn.tls.enabled $running $wanted (not $.Values.ovn.tls.enabled)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The TLS flags of OVS's and OVN's programs (ovsdb-server, ovsdb-client,
     ovn-northd) on one line; empty without TLS. */}}
{{- define "ovnet.ovnTLSArgs" -}}
{{- if .Values.ovn.tls.enabled -}}
{{- $tls := include "ovnet.ovnTLSDir" . -}}
--private-key={{ $tls }}/tls.key --certificate={{ $tls }}/tls.crt --ca-cert={{ $tls }}/ca.crt
{{- end -}}
{{- end -}}

{{/* Where the OVN TLS Secret is mounted, in every container that uses it. */}}
{{- define "ovnet.ovnTLSDir" -}}
/etc/ovnet/ovn-tls
{{- end -}}

{{/* The volume of the OVN TLS Secret; nothing without TLS. Mode 0440: the
     owner (root, OVN's daemons and ovnet-daemon) and the pod's fsGroup
     (the controller's user) read it, nobody else. */}}
{{- define "ovnet.ovnTLSVolume" -}}
{{- if .Values.ovn.tls.enabled -}}
- name: ovn-tls
  secret:
    secretName: {{ required "ovn.tls.enabled needs ovn.tls.secretName" .Values.ovn.tls.secretName }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{/* The mount of that volume; nothing without TLS. */}}
{{- define "ovnet.ovnTLSMount" -}}
{{- if .Values.ovn.tls.enabled -}}
- name: ovn-tls
  mountPath: {{ include "ovnet.ovnTLSDir" . }}
  readOnly: true
{{- end }}
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
