package harness

import (
	"strings"
	"testing"
)

func TestLoopbackCorefile(t *testing.T) {
	l := loopbackListeners{DNS: "127.0.0.1:5300", Health: "127.0.0.1:8080", Ready: "127.0.0.1:8181",
		Metrics: "127.0.0.1:9153", Kubeconfig: "/k"}
	manifest := `.:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        ttl 30
    }
    prometheus :9153
}
`
	tests := []struct {
		name     string
		corefile string
		// want are lines the rewrite holds; wantErr is part of its error.
		want    []string
		wantErr string
	}{
		{"the manifest's shape", manifest, []string{".:5300 {", "    bind 127.0.0.1", "health 127.0.0.1:8080 {",
			"    ready 127.0.0.1:8181", "        kubeconfig /k", "prometheus 127.0.0.1:9153"}, ""},
		{"a listener it does not know", strings.Replace(manifest, "prometheus :9153", "prometheus 0.0.0.0:9153", 1), nil, `"prometheus :9153" 0 times`},
		{"a second server block", manifest + manifest, nil, "2 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loopbackCorefile(tt.corefile, l)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w+"\n") {
					t.Errorf("rewrite lacks %q:\n%s", w, got)
				}
			}
		})
	}
}
