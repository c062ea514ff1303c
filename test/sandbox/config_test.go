package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{"defaults", nil, Config{Dir: DefaultDir, Nodes: 1, Examples: true, Encap: "geneve"}, ""},
		{"three nodes, no examples, own dir", map[string]string{"NODES": "3", "EXAMPLES": "0", "SANDBOX_DIR": "/tmp/x"},
			Config{Dir: "/tmp/x", Nodes: 3, Encap: "geneve"}, ""},
		{"VXLAN", map[string]string{"NODES": "2", "ENCAP": "vxlan"}, Config{Dir: DefaultDir, Nodes: 2, Examples: true, Encap: "vxlan"}, ""},
		{"unknown ENCAP refused", map[string]string{"ENCAP": "gre"}, Config{}, `ENCAP=gre: encap type "gre": want geneve or vxlan`},
		{"zero nodes refused", map[string]string{"NODES": "0"}, Config{}, "NODES=0"},
		{"too many nodes refused", map[string]string{"NODES": "10"}, Config{}, "NODES=10"},
		{"a word for NODES refused", map[string]string{"NODES": "two"}, Config{}, "NODES=two"},
		{"EXAMPLES must be 0 or 1", map[string]string{"EXAMPLES": "no"}, Config{}, "EXAMPLES=no"},
		{"no Kubernetes binaries", map[string]string{"KUBEBUILDER_ASSETS": ""}, Config{}, "KUBEBUILDER_ASSETS"},
		{"Raft on three nodes", map[string]string{"NODES": "3", "RAFT": "1"}, Config{Dir: DefaultDir, Nodes: 3, Examples: true, Raft: true, Encap: "geneve"}, ""},
		{"Raft on two nodes refused", map[string]string{"NODES": "2", "RAFT": "1"}, Config{}, "RAFT=1 needs NODES=3"},
		{"RAFT must be 0 or 1", map[string]string{"NODES": "3", "RAFT": "yes"}, Config{}, "RAFT=yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"NODES", "EXAMPLES", "SANDBOX_DIR", "RAFT", "ENCAP"} {
				t.Setenv(k, "")
			}
			t.Setenv("KUBEBUILDER_ASSETS", "/k8s/bin")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := FromEnv("/repo")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("FromEnv() error = %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Dir != tt.want.Dir || got.Nodes != tt.want.Nodes || got.Examples != tt.want.Examples || got.Raft != tt.want.Raft ||
				got.Encap != tt.want.Encap || got.Repo != "/repo" || got.KubeBin != "/k8s/bin" {
				t.Errorf("FromEnv() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWriteEnv(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), KubeBin: "/k8s/bin"}
	st := State{
		Kubeconfig: "/d/kubeconfig", NB: "tcp:127.0.0.1:1", SB: "tcp:127.0.0.1:2",
		Nodes:        []NodeState{{Name: "node-1", NetNS: "kn1", Address: "172.18.0.1", MountNSPID: 42}, {Name: "node-2", NetNS: "kn2"}},
		TcpdumpFlags: "--node-netns=x-{node}", Underlay: "ul", External: "ext", Far: "far",
	}
	if err := writeEnv(cfg, st); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(cfg.Dir, "sandbox.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"export KUBECONFIG=/d/kubeconfig\n",
		"export PATH=" + cfg.Dir + "/bin:/k8s/bin:$PATH\n",
		"OVN_NB_DB=tcp:127.0.0.1:1 OVN_SB_DB=tcp:127.0.0.1:2 OVNET_NB=tcp:127.0.0.1:1 OVNET_SB=tcp:127.0.0.1:2\n",
		"export NODE_NETNS_1=kn1\n", "export NODE_NETNS_2=kn2\n", "export NODE_NETNS=kn1\n",
		"export NODE_PID_1=42 ",
		"export CONTAINERD_ADDRESS=/run/containerd/containerd.sock\n",
		`export OVNET_TCPDUMP="--node-netns=x-{node}"`,
		"export UL_NETNS=ul EXT_NETNS=ext FAR_NETNS=far FAR_PORT=8080\n",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("sandbox.env has no %q:\n%s", want, data)
		}
	}
}
