package chart

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestBadValuesFail renders the chart with values that must not install:
// each fails in values.schema.json or a template's fail, which helm runs
// before it creates anything (install and upgrade validate as template does).
func TestBadValuesFail(t *testing.T) {
	tests := []struct {
		name string
		set  []string
		// want is part of helm's error.
		want string
	}{
		{"unknown datapath", []string{"node.datapathType=dpdk"}, "/node/datapathType': value must be one of 'system', 'netdev'"},
		{"unknown encapsulation", []string{"node.encapType=gre"}, "/node/encapType': value must be one of 'geneve', 'vxlan'"},
		{"MTU not a number", []string{"node.mtu=big"}, "/node/mtu': got string, want integer"},
		{"MTU below IPv4's minimum", []string{"node.mtu=100"}, "/node/mtu'"},
		{"replicas not a number", []string{"controller.replicas=two"}, "/controller/replicas': got string, want integer"},
		{"mirror not a boolean", []string{"node.enableMirror=sometimes"}, "/node/enableMirror': got string, want boolean"},
		{"port out of range", []string{"node.metricsPort=70000"}, "/node/metricsPort'"},
		{"misspelt key", []string{"node.datapathtype=netdev"}, "additional properties 'datapathtype' not allowed"},
		{"unknown top-level key", []string{"nodes.mtu=1400"}, "additional properties 'nodes' not allowed"},
		{"CIDR without a prefix", []string{"network.defaultSubnet.cidr=10.16.0.0"}, "/network/defaultSubnet/cidr'"},
		{"NB address without a scheme", []string{"ovn.nbAddress=10.0.0.1:6641"}, "/ovn/nbAddress'"},
		{"digest not sha256", []string{"image.digest=latest"}, "/image/digest'"},
		{"unknown pull policy", []string{"image.pullPolicy=Sometimes"}, "/image/pullPolicy'"},
		{"duration without a unit", []string{"controller.gcInterval=300"}, "/controller/gcInterval'"},
		{"two OVN central replicas", []string{"ovn.central.replicas=2"}, "/ovn/central/replicas'"},
		{"Raft without node addresses", []string{"ovn.central.replicas=3"}, "ovn.central.replicas=3 needs ovn.central.nodeIPs"},
		{"Raft with too few node addresses", []string{"ovn.central.replicas=3", "ovn.central.nodeIPs={10.0.0.1,10.0.0.2}"}, "ovn.central.replicas=3 needs ovn.central.nodeIPs"},
		{"Raft node address twice", []string{"ovn.central.replicas=3", "ovn.central.nodeIPs={10.0.0.1,10.0.0.2,10.0.0.1}"}, "/ovn/central/nodeIPs'"},
		{"Raft node address not an address", []string{"ovn.central.replicas=3", "ovn.central.nodeIPs={node-1,node-2,node-3}"}, "/ovn/central/nodeIPs/0'"},
		{"external OVN without NB", []string{"ovn.central.enabled=false", "ovn.sbAddress=tcp:10.0.0.1:6642"}, "ovn.central.enabled=false needs ovn.nbAddress"},
		{"external OVN without SB", []string{"ovn.central.enabled=false", "ovn.nbAddress=tcp:10.0.0.1:6641"}, "ovn.central.enabled=false needs ovn.sbAddress"},
		{"tunnel interface on the system datapath", []string{"node.tunnelInterface=eth2"}, "node.tunnelInterface needs node.datapathType=netdev"},
		{"tunnel interface name too long", []string{"node.datapathType=netdev", "node.tunnelInterface=a-very-long-interface"}, "/node/tunnelInterface'"},
		{"unknown Open vSwitch update strategy", []string{"node.openvswitch.updateStrategy.type=Never"}, "/node/openvswitch/updateStrategy/type'"},
		{"API server port without a host", []string{"apiServer.port=6443"}, "apiServer.port needs apiServer.host"},
		{"API server host with a scheme", []string{"apiServer.host=https://10.0.0.1"}, "/apiServer/host'"},
		{"replicas without leader election", []string{"controller.replicas=2", "controller.leaderElection.enabled=false"}, "needs controller.leaderElection.enabled"},
		{"scrape interval without a unit", []string{"metrics.serviceMonitor.interval=30"}, "/metrics/serviceMonitor/interval'"},
		{"Go duration Prometheus refuses", []string{"metrics.serviceMonitor.scrapeTimeout=1.5s"}, "/metrics/serviceMonitor/scrapeTimeout'"},
		{"IPFIX target by name", []string{"flowExport.ipfix.targets={collector:4739}"}, "/flowExport/ipfix/targets/0'"},
		{"IPFIX target without a port", []string{"flowExport.ipfix.targets={10.0.0.5}"}, "/flowExport/ipfix/targets/0'"},
		{"IPFIX sampling 0", []string{"flowExport.ipfix.sampling=0"}, "/flowExport/ipfix/sampling'"},
		{"IPFIX timeout beyond OVS's", []string{"flowExport.ipfix.cacheActiveTimeout=5000"}, "/flowExport/ipfix/cacheActiveTimeout'"},
		{"sFlow target by name", []string{"flowExport.sflow.targets={collector:6343}"}, "/flowExport/sflow/targets/0'"},
		{"sFlow polling 0", []string{"flowExport.sflow.polling=0"}, "/flowExport/sflow/polling'"},
		{"sFlow header beyond a datagram", []string{"flowExport.sflow.header=2000"}, "/flowExport/sflow/header'"},
		{"sFlow agent with a slash", []string{"flowExport.sflow.agent=eth0/1"}, "/flowExport/sflow/agent'"},
		{"IPFIX pod names without targets", []string{"flowExport.ipfix.podNames=true"}, "/flowExport/ipfix/targets'"},
		{"IPFIX mediator port 0", []string{"flowExport.ipfix.mediatorPort=0"}, "/flowExport/ipfix/mediatorPort'"},
		{"misspelt IPFIX key", []string{"flowExport.ipfix.target={10.0.0.5:4739}"}, "additional properties 'target' not allowed"},
		{"misspelt metrics key", []string{"metrics.serviceMonitor.enable=true"}, "additional properties 'enable' not allowed"},
		{"dashboard namespace not a name", []string{"metrics.dashboard.namespace=Monitoring"}, "/metrics/dashboard/namespace'"},
		{"TLS without a Secret", []string{"ovn.tls.enabled=true"}, "at '/ovn/tls/secretName': minLength: got 0, want 1"},
		{"TLS Secret not a name", []string{"ovn.tls.enabled=true", "ovn.tls.secretName=OVN_TLS"}, "/ovn/tls/secretName'"},
		{"misspelt TLS key", []string{"ovn.tls.secret=ovn-tls"}, "additional properties 'secret' not allowed"},
		{"TLS with a tcp: NB", []string{"ovn.tls.enabled=true", "ovn.tls.secretName=ovn-tls", "ovn.nbAddress=tcp:10.0.0.1:6641"},
			"ovn.tls.enabled needs ssl: remotes; ovn.nbAddress has tcp:10.0.0.1:6641"},
		{"TLS with one tcp: SB member", []string{"ovn.tls.enabled=true", "ovn.tls.secretName=ovn-tls",
			"ovn.sbAddress=ssl:10.0.0.1:6642\\,tcp:10.0.0.2:6642"}, "ovn.sbAddress has tcp:10.0.0.2:6642"},
		{"ssl: SB without TLS", []string{"ovn.sbAddress=ssl:10.0.0.1:6642"}, "ovn.sbAddress ssl:10.0.0.1:6642 needs ovn.tls.enabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := helmTemplate(t, setArgs(tt.set)...)
			if err == nil {
				t.Fatalf("rendered with %v; want an error containing %q", tt.set, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v; want it to contain %q", err, tt.want)
			}
			if out != "" {
				t.Fatalf("rendered objects despite the error:\n%s", out)
			}
		})
	}
}

func setArgs(set []string) []string {
	var args []string
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return args
}

// TestGoodValuesRender renders values users set and checks what they
// change in the render.
func TestGoodValuesRender(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name string
		set  []string
		// want are strings the render contains; absent ones it must not.
		want, absent []string
	}{
		{"defaults", nil,
			[]string{"image: ovnet/ovnet:0.1.0\n", "kind: PodDisruptionBudget", "key: node-role.kubernetes.io/control-plane\n                operator: Exists",
				"key: node-role.kubernetes.io/master\n                operator: Exists",
				"--nb-address=tcp:[$(OVN_NB_SERVICE_HOST)]:$(OVN_NB_SERVICE_PORT)",
				"--ovn-remote=tcp:[$(OVN_SB_SERVICE_HOST)]:$(OVN_SB_SERVICE_PORT)",
				`--remote=ptcp:6641:"[$POD_IP]"`, "seccompProfile:\n            type: RuntimeDefault"},
			[]string{"imagePullSecrets", "ovnet.io/ovsdb-scheme", "ovn-tls", "--ipfix-", "--sflow-"}},
		{"registry, digest and pull secrets",
			[]string{"image.registry=registry.example.com:5000", "image.tag=v9", "image.digest=" + digest, "imagePullSecrets[0].name=regcred"},
			[]string{"image: registry.example.com:5000/ovnet/ovnet:v9@" + digest + "\n", "imagePullSecrets:\n      - name: regcred"},
			[]string{"image: ovnet/ovnet:"}},
		{"netdev datapath", []string{"node.datapathType=netdev", "node.mtu=1400", "node.encapType=vxlan"},
			[]string{"--datapath-type=netdev", "--disable-system", "--encap-type=vxlan"}, []string{"host-modules"}},
		{"external OVN central on IPv6",
			[]string{"ovn.central.enabled=false", "ovn.nbAddress=tcp:[fd00::10]:6641", "ovn.sbAddress=tcp:[fd00::10]:6642"},
			[]string{"--nb-address=tcp:[fd00::10]:6641", "--ovn-remote=tcp:[fd00::10]:6642"}, []string{"kind: Service\n", "name: ovn-central"}},
		{"TLS", []string{"ovn.tls.enabled=true", "ovn.tls.secretName=ovn-tls"},
			[]string{"--nb-address=ssl:[$(OVN_NB_SERVICE_HOST)]:$(OVN_NB_SERVICE_PORT)",
				"--nb-ca-cert=/etc/ovnet/ovn-tls/ca.crt\n        - --nb-cert=/etc/ovnet/ovn-tls/tls.crt\n        - --nb-private-key=/etc/ovnet/ovn-tls/tls.key\n",
				"--ovn-remote=ssl:[$(OVN_SB_SERVICE_HOST)]:$(OVN_SB_SERVICE_PORT)",
				"--ovn-ca-cert=/etc/ovnet/ovn-tls/ca.crt", "--ovn-cert=/etc/ovnet/ovn-tls/tls.crt", "--ovn-private-key=/etc/ovnet/ovn-tls/tls.key",
				`--remote=pssl:6641:"[$POD_IP]" \` + "\n            --private-key=/etc/ovnet/ovn-tls/tls.key \\\n            --certificate=/etc/ovnet/ovn-tls/tls.crt \\\n            --ca-cert=/etc/ovnet/ovn-tls/ca.crt \\\n",
				`--remote=pssl:6642:"[$POD_IP]"`,
				"fsGroup: 65534", "annotations:\n    # kubectl ovnet connects with ssl: (pkg/kubectlovnet SchemeAnnotation).\n    ovnet.io/ovsdb-scheme: ssl\n"},
			[]string{"ptcp:", "tcp:[$(", "--nb-server-name"}},
		{"TLS to an external OVN central with a server name",
			[]string{"ovn.central.enabled=false", "ovn.tls.enabled=true", "ovn.tls.secretName=ovn-tls", "ovn.tls.serverName=ovn.example.com",
				"ovn.nbAddress=ssl:10.0.0.1:6641\\,ssl:10.0.0.2:6641", "ovn.sbAddress=ssl:10.0.0.1:6642"},
			[]string{"--nb-address=ssl:10.0.0.1:6641,ssl:10.0.0.2:6641", "--nb-server-name=ovn.example.com", "--ovn-remote=ssl:10.0.0.1:6642"},
			[]string{"name: ovn-central"}},
		{"IPFIX export", []string{"flowExport.ipfix.targets={10.0.0.5:4739,[fd00::5]:4739}", "flowExport.ipfix.sampling=1"},
			[]string{"--ipfix-targets=10.0.0.5:4739,[fd00::5]:4739\n        - --ipfix-sampling=1\n" +
				"        - --ipfix-cache-active-timeout=60\n        - --ipfix-cache-max-flows=0\n"}, nil},
		{"IPFIX with pod names", []string{"flowExport.ipfix.targets={10.0.0.5:4739}", "flowExport.ipfix.podNames=true",
			"flowExport.ipfix.mediatorPort=4740"},
			[]string{"--ipfix-cache-max-flows=0\n        - --ipfix-pod-names\n        - --ipfix-mediator-port=4740\n"}, nil},
		{"IPFIX without pod names", []string{"flowExport.ipfix.targets={10.0.0.5:4739}"}, nil,
			[]string{"--ipfix-pod-names", "--ipfix-mediator-port"}},
		{"sFlow export", []string{"flowExport.sflow.targets={10.0.0.5:6343}", "flowExport.sflow.polling=10"},
			[]string{"--sflow-targets=10.0.0.5:6343\n        - --sflow-sampling=400\n" +
				"        - --sflow-polling=10\n        - --sflow-header=128\n        - --ovn-rundir"}, []string{"--sflow-agent", "--ipfix-"}},
		{"sFlow agent", []string{"flowExport.sflow.targets={10.0.0.5:6343}", "flowExport.sflow.agent=eth0"},
			[]string{"--sflow-header=128\n        - --sflow-agent=eth0\n"}, nil},
		{"OnDelete upgrades", []string{"node.updateStrategy.type=OnDelete"},
			[]string{"updateStrategy:\n    type: OnDelete\n  template:"}, nil},
		{"API server address", []string{"apiServer.host=172.18.0.1"},
			[]string{"- name: KUBERNETES_SERVICE_HOST\n          value: \"172.18.0.1\"\n        - name: KUBERNETES_SERVICE_PORT\n          value: \"6443\"",
				"- name: KUBERNETES_SERVICE_HOST\n            value: \"172.18.0.1\"\n          - name: KUBERNETES_SERVICE_PORT\n            value: \"6443\""}, nil},
		{"API server address and port", []string{"apiServer.host=api.example.com", "apiServer.port=443"},
			[]string{"value: \"api.example.com\"", "value: \"443\""}, []string{"value: \"6443\""}},
		{"netdev tunnels on an interface", []string{"node.datapathType=netdev", "node.tunnelInterface=eth2"},
			[]string{"--encap-interface=br-phy", `iface="eth2"`, "add-port br-phy"}, []string{"--encap-ip="}},
		{"Open vSwitch rolling with upgrades", []string{"node.openvswitch.updateStrategy.type=RollingUpdate"},
			[]string{"name: ovnet-ovs", "updateStrategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxUnavailable: 1\n  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: ovnet"}, []string{"type: OnDelete"}},
		{"no PodDisruptionBudget", []string{"controller.podDisruptionBudget.enabled=false"}, nil, []string{"kind: PodDisruptionBudget"}},
		{"OVN central anywhere", []string{"ovn.central.affinity=null"}, []string{"name: ovn-central"}, []string{"node-role.kubernetes.io/master\n                operator"}},
		{"OVN central as Raft clusters", []string{"ovn.central.replicas=3", "ovn.central.nodeIPs={10.0.0.1,10.0.0.2,fd00::3}"},
			[]string{"replicas: 3\n", "maxSurge: 0", "podAntiAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n          - labelSelector:",
				"topologyKey: kubernetes.io/hostname", "key: node-role.kubernetes.io/control-plane",
				"--nb-address=tcp:10.0.0.1:6641,tcp:10.0.0.2:6641,tcp:[fd00::3]:6641",
				"--ovn-remote=tcp:10.0.0.1:6642,tcp:10.0.0.2:6642,tcp:[fd00::3]:6642",
				"--ovnnb-db=tcp:10.0.0.1:6641,tcp:10.0.0.2:6641,tcp:[fd00::3]:6641",
				"--ovnsb-db=tcp:10.0.0.1:6642,tcp:10.0.0.2:6642,tcp:[fd00::3]:6642",
				"proto=tcp\n", `self="$proto:$(host "$POD_IP"):6643"`, `self="$proto:$(host "$POD_IP"):6644"`,
				`ovsdb-tool create-cluster "$db" "$seed" "$self"`, `ovsdb-tool join-cluster "$db" OVN_Southbound "$self" $remotes`,
				`--remote=p$proto:6641:"[$POD_IP]" $tls \`,
				`if [ "$POD_IP" = "10.0.0.1" ]`, "containerPort: 6643", "containerPort: 6644",
				"name: ovn-central\n  namespace: kube-system\n  labels:\n    app.kubernetes.io/name: ovnet\n    app.kubernetes.io/instance: ovnet\n    app.kubernetes.io/version: \"0.1.0\"\n    app.kubernetes.io/managed-by: Helm\n    helm.sh/chart: ovnet-0.1.0\n    app.kubernetes.io/component: ovn-central\nspec:\n  maxUnavailable: 1\n"},
			[]string{"type: Recreate", "OVN_NB_SERVICE_HOST", "--ovnnb-db=unix:", "proto=ssl", "ssl:10.0.0.1", "--private-key="}},
		// The members' links, their listeners, the probe for a serving
		// member and every client's remotes are ssl:, with the Secret's
		// files; nothing is tcp:.
		{"TLS with OVN central as Raft clusters", []string{"ovn.tls.enabled=true", "ovn.tls.secretName=ovn-tls",
			"ovn.central.replicas=3", "ovn.central.nodeIPs={10.0.0.1,10.0.0.2,fd00::3}"},
			[]string{"proto=ssl\n", `tls="--private-key=/etc/ovnet/ovn-tls/tls.key --certificate=/etc/ovnet/ovn-tls/tls.crt --ca-cert=/etc/ovnet/ovn-tls/ca.crt"`,
				`self="$proto:$(host "$POD_IP"):6643"`, `remotes="$remotes $proto:$(host "$ip"):6644"`,
				`ovsdb-client --timeout=3 $tls get-schema-version "$proto:$(host "$ip"):6641" OVN_Northbound`,
				`--remote=p$proto:6642:"[$POD_IP]" $tls \`,
				`"$proto":*) ;;`,
				"--nb-address=ssl:10.0.0.1:6641,ssl:10.0.0.2:6641,ssl:[fd00::3]:6641",
				"--ovn-remote=ssl:10.0.0.1:6642,ssl:10.0.0.2:6642,ssl:[fd00::3]:6642",
				"--ovnnb-db=ssl:10.0.0.1:6641,ssl:10.0.0.2:6641,ssl:[fd00::3]:6641 \\\n" +
					"            --ovnsb-db=ssl:10.0.0.1:6642,ssl:10.0.0.2:6642,ssl:[fd00::3]:6642 \\\n" +
					"            --private-key=/etc/ovnet/ovn-tls/tls.key --certificate=/etc/ovnet/ovn-tls/tls.crt --ca-cert=/etc/ovnet/ovn-tls/ca.crt \\\n",
				"ovnet.io/ovsdb-scheme: ssl\n"},
			[]string{"tcp:", "proto=tcp", "--ovnnb-db=unix:"}},
		{"Raft with members named by the operator", []string{"ovn.central.replicas=3", "ovn.central.nodeIPs={10.0.0.1,10.0.0.2,10.0.0.3}",
			"ovn.nbAddress=tcp:ovn.example.com:6641"},
			[]string{"--nb-address=tcp:ovn.example.com:6641", "--ovn-remote=tcp:10.0.0.1:6642,tcp:10.0.0.2:6642,tcp:10.0.0.3:6642"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := helmTemplate(t, setArgs(tt.set)...)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("render lacks %q", w)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(out, a) {
					t.Errorf("render has %q", a)
				}
			}
		})
	}
}

// TestExampleValues renders the chart with each values file under
// yamls/examples/values/, as its comment tells users to install it.
func TestExampleValues(t *testing.T) {
	tests := []struct {
		file string
		// want are strings the render contains.
		want []string
	}{
		{"ipfix.yaml", []string{"--ipfix-targets=192.0.2.50:4739", "--ipfix-sampling=64"}},
		{"ipfix-pod-names.yaml", []string{"--ipfix-targets=192.0.2.50:4739", "--ipfix-pod-names\n        - --ipfix-mediator-port=10669\n"}},
		{"sflow.yaml", []string{"--sflow-targets=192.0.2.50:6343", "--sflow-sampling=256", "--sflow-polling=10"}},
		{"vxlan.yaml", []string{"--encap-type=vxlan"}},
	}
	dir := filepath.Join(repoRoot(t), "yamls", "examples", "values")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%s holds %d files, the test checks %d: add a case for each", dir, len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out, err := helmTemplate(t, "-f", filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("render lacks %q", w)
				}
			}
		})
	}
}

// TestManifestsUpToDate fails when yamls/ovnet.yaml or the chart's CRD
// copy is not what `make manifests` writes from the current tree.
func TestManifestsUpToDate(t *testing.T) {
	root := repoRoot(t)
	// Hooks stay out: kubectl apply would run the uninstall Job at once.
	rendered, err := helmTemplate(t, "--include-crds", "--no-hooks")
	if err != nil {
		t.Fatal(err)
	}
	committed := readFile(t, filepath.Join(root, "yamls", "ovnet.yaml"))
	if body := dropHeader(committed); body != rendered {
		t.Errorf("yamls/ovnet.yaml is stale: run make manifests")
	}
	for _, name := range []string{"ovnet.io_subnets.yaml", "ovnet.io_providernetworks.yaml"} {
		crd := readFile(t, filepath.Join(root, "config", "crd", name))
		if body := dropHeader(readFile(t, filepath.Join(root, "charts", "ovnet", "crds", name))); body != crd {
			t.Errorf("charts/ovnet/crds/%s is stale: run make manifests", name)
		}
	}
}

// dropHeader removes the comment lines make manifests puts first.
func dropHeader(s string) string {
	for strings.HasPrefix(s, "#") {
		_, s, _ = strings.Cut(s, "\n")
	}
	return s
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSecurityContexts checks each container's privileges: only the two
// that must (values.yaml and node.yaml say why) are privileged, and every
// other one drops all capabilities and runs the runtime's seccomp profile.
func TestSecurityContexts(t *testing.T) {
	rendered, err := helmTemplate(t)
	if err != nil {
		t.Fatal(err)
	}
	privileged := map[string]bool{"ovnet-ovs/openvswitch": true, "ovnet-node/ovnet-daemon": true}
	seen := 0
	for _, o := range objects(t, rendered) {
		if o.Kind != "Deployment" && o.Kind != "DaemonSet" {
			continue
		}
		var spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Name            string `json:"name"`
						SecurityContext struct {
							Privileged               *bool `json:"privileged"`
							AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
							Capabilities             struct {
								Add  []string `json:"add"`
								Drop []string `json:"drop"`
							} `json:"capabilities"`
							SeccompProfile struct {
								Type string `json:"type"`
							} `json:"seccompProfile"`
						} `json:"securityContext"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		}
		if err := yaml.Unmarshal([]byte(specOf(t, o.Raw)), &spec); err != nil {
			t.Fatalf("%s: %v", o.Metadata.Name, err)
		}
		for _, c := range spec.Template.Spec.Containers {
			seen++
			name := o.Metadata.Name + "/" + c.Name
			sc := c.SecurityContext
			isPrivileged := sc.Privileged != nil && *sc.Privileged
			if isPrivileged != privileged[name] {
				t.Errorf("%s: privileged %v, want %v", name, isPrivileged, privileged[name])
			}
			if isPrivileged {
				continue
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation not false", name)
			}
			if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || len(sc.Capabilities.Add) != 0 {
				t.Errorf("%s: capabilities %+v, want drop ALL and add none", name, sc.Capabilities)
			}
			if sc.SeccompProfile.Type != "RuntimeDefault" {
				t.Errorf("%s: seccompProfile %q, want RuntimeDefault", name, sc.SeccompProfile.Type)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no containers rendered")
	}
}

// specOf returns the spec of a rendered object as YAML.
func specOf(t *testing.T, raw string) string {
	t.Helper()
	var o struct {
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(raw), &o); err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(o.Spec)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLint runs `helm lint --strict` (which also renders NOTES.txt) with
// the defaults, with OVN central outside the cluster on IPv6, with the
// metrics objects on, and with OVN central as Raft clusters.
func TestLint(t *testing.T) {
	tests := []struct {
		name string
		set  []string
	}{
		{"defaults", nil},
		{"external OVN central", []string{"ovn.central.enabled=false", "ovn.nbAddress=tcp:[fd00::10]:6641", "ovn.sbAddress=tcp:[fd00::10]:6642"}},
		{"ServiceMonitors and dashboard", []string{"metrics.serviceMonitor.enabled=true", "metrics.dashboard.enabled=true"}},
		{"OVN central as Raft clusters", []string{"ovn.central.replicas=3", "ovn.central.nodeIPs={10.0.0.1,10.0.0.2,10.0.0.3}"}},
		{"OVN central as Raft clusters with TLS", []string{"ovn.central.replicas=3", "ovn.central.nodeIPs={10.0.0.1,10.0.0.2,10.0.0.3}",
			"ovn.tls.enabled=true", "ovn.tls.secretName=ovn-tls"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", "--kube-version", kubeVersion, chartDir(t)}, setArgs(tt.set)...)
			if out, err := helm(t, args...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}
