package chart

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ovnet/ovnet/pkg/speaker"
)

// speakerOn are the values of a minimal speaker: one peer.
var speakerOn = []string{"speaker.enabled=true", "speaker.localAS=64512",
	"speaker.peers[0].address=192.0.2.1", "speaker.peers[0].as=64500"}

// TestSpeakerOffByDefault: the defaults render no speaker object at all.
func TestSpeakerOffByDefault(t *testing.T) {
	out, err := helmTemplate(t)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "ovnet-speaker") {
		t.Error("the default render has ovnet-speaker objects")
	}
}

// TestSpeakerRender: with the speaker on, the DaemonSet runs the image's
// ovnet-speaker on the host network with the node's address, and its
// Secret holds a configuration the speaker itself accepts, every peer
// field carried over.
func TestSpeakerRender(t *testing.T) {
	set := append(append([]string{}, speakerOn...), "speaker.peers[0].password=s3cret", "speaker.peers[0].gracefulRestart=true",
		"speaker.peers[0].restartTime=300", "speaker.peers[1].address=192.0.2.2", "speaker.peers[1].as=64501",
		"speaker.peers[1].localAS=64513", "speaker.peers[1].ebgpMultihopTTL=3", "speaker.nodeSelector.ovnet\\.io/bgp=yes")
	out, err := helmTemplate(t, setArgs(set)...)
	if err != nil {
		t.Fatal(err)
	}
	var daemonSet, secret string
	for _, o := range objects(t, out) {
		switch {
		case o.Kind == "DaemonSet" && o.Metadata.Name == "ovnet-speaker":
			daemonSet = o.Raw
		case o.Kind == "Secret" && o.Metadata.Name == "ovnet-speaker":
			secret = o.Raw
		}
	}
	if daemonSet == "" || secret == "" {
		t.Fatalf("DaemonSet %v, Secret %v rendered", daemonSet != "", secret != "")
	}
	for _, want := range []string{"/usr/bin/ovnet-speaker", "hostNetwork: true", "fieldPath: status.hostIP",
		"--config=/etc/ovnet/speaker/speaker.yaml", "secretName: ovnet-speaker", "ovnet.io/bgp: \"yes\"", "serviceAccountName: ovnet-speaker"} {
		if !strings.Contains(daemonSet, want) {
			t.Errorf("speaker DaemonSet lacks %q", want)
		}
	}
	var s struct {
		StringData map[string]string `json:"stringData"`
	}
	if err := yaml.Unmarshal([]byte(secret), &s); err != nil {
		t.Fatal(err)
	}
	var cfg speaker.Config
	if err := yaml.UnmarshalStrict([]byte(s.StringData["speaker.yaml"]), &cfg); err != nil {
		t.Fatalf("speaker.yaml: %v\n%s", err, s.StringData["speaker.yaml"])
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the speaker refuses the rendered configuration: %v", err)
	}
	want := speaker.Config{LocalAS: 64512, Peers: []speaker.Peer{
		{Address: "192.0.2.1", AS: 64500, Password: "s3cret", GracefulRestart: true, RestartTime: 300},
		{Address: "192.0.2.2", AS: 64501, LocalAS: 64513, EBGPMultihopTTL: 3}}}
	if got, _ := yaml.Marshal(cfg); string(got) != string(must(yaml.Marshal(want))) {
		t.Errorf("configuration\n%s\nwant\n%s", got, must(yaml.Marshal(want)))
	}
}

// TestSpeakerBadValues: a speaker that could not run as asked does not
// install.
func TestSpeakerBadValues(t *testing.T) {
	tests := []struct {
		name string
		set  []string
		want string
	}{
		{"no peers", []string{"speaker.enabled=true", "speaker.localAS=64512"}, "speaker.enabled needs speaker.peers"},
		{"no local AS", []string{"speaker.enabled=true", "speaker.peers[0].address=192.0.2.1", "speaker.peers[0].as=64500"}, "has no local AS"},
		{"peer not an address", append(speakerOn, "speaker.peers[0].address=router"), "/speaker/peers/0/address'"},
		{"peer without AS", []string{"speaker.enabled=true", "speaker.localAS=64512", "speaker.peers[0].address=192.0.2.1"}, "missing property 'as'"},
		{"misspelt peer key", append(speakerOn, "speaker.peers[0].gracefulrestart=true"), "additional properties 'gracefulrestart' not allowed"},
		{"password too long", append(speakerOn, "speaker.peers[0].password="+strings.Repeat("x", 81)), "/speaker/peers/0/password'"},
		{"TTL out of range", append(speakerOn, "speaker.peers[0].ebgpMultihopTTL=300"), "/speaker/peers/0/ebgpMultihopTTL'"},
		{"restart time without graceful restart", append(speakerOn, "speaker.peers[0].restartTime=60"), "restartTime needs gracefulRestart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := helmTemplate(t, setArgs(tt.set)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v; want one containing %q", err, tt.want)
			}
			if out != "" {
				t.Fatalf("rendered objects despite the error:\n%s", out)
			}
		})
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
