package chart

import (
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestTLSMounts renders ovn.tls and checks that exactly the containers
// that use OVN's TLS files mount the Secret, at the path their flags
// name, read-only, from a volume of that Secret: a container whose
// flags name files it does not mount would fail at start. Beside Raft
// members ovn-northd connects over ssl: too.
func TestTLSMounts(t *testing.T) {
	standalone := []string{"ovn-central/nb-db", "ovn-central/sb-db", "ovnet-controller/controller",
		"ovnet-node/ovnet-daemon", "ovnet-ovs/ovn-controller"}
	tests := []struct {
		name string
		set  []string
		want []string
	}{
		{"standalone", nil, standalone},
		{"Raft", []string{"ovn.central.replicas=3", "ovn.central.nodeIPs={10.0.0.1,10.0.0.2,10.0.0.3}"},
			append([]string{"ovn-central/northd"}, standalone...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rendered, err := helmTemplate(t, setArgs(append([]string{"ovn.tls.enabled=true", "ovn.tls.secretName=ovn-tls"}, tt.set...))...)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Sorted(slices.Values(tt.want))
			if got := tlsMounts(t, rendered); !slices.Equal(got, want) {
				t.Errorf("containers mounting the TLS Secret: %v, want %v", got, want)
			}
		})
	}
}

// tlsMounts lists, sorted, the containers ("<workload>/<container>")
// mounting the TLS Secret in rendered, checking each mount.
func tlsMounts(t *testing.T, rendered string) []string {
	t.Helper()
	var got []string
	for _, o := range objects(t, rendered) {
		if o.Kind != "Deployment" && o.Kind != "DaemonSet" {
			continue
		}
		var spec podTemplate
		if err := yaml.Unmarshal([]byte(o.Raw), &spec); err != nil {
			t.Fatal(err)
		}
		volume, mode := spec.secretVolume("ovn-tls")
		if volume != "" && mode != 0o440 {
			t.Errorf("%s: the TLS Secret's volume has mode %o, want 0440 (owner and fsGroup read)", o.Metadata.Name, mode)
		}
		for _, c := range spec.Spec.Template.Spec.Containers {
			for _, m := range c.VolumeMounts {
				if m.MountPath != "/etc/ovnet/ovn-tls" {
					continue
				}
				got = append(got, o.Metadata.Name+"/"+c.Name)
				if !m.ReadOnly || m.Name != volume {
					t.Errorf("%s/%s mounts %+v; want read-only volume %q of Secret ovn-tls", o.Metadata.Name, c.Name, m, volume)
				}
			}
		}
	}
	slices.Sort(got)
	return got
}

// podTemplate is the part of a Deployment or DaemonSet the TLS test reads.
type podTemplate struct {
	Spec struct {
		Template struct {
			Spec struct {
				Volumes []struct {
					Name   string `json:"name"`
					Secret *struct {
						SecretName  string `json:"secretName"`
						DefaultMode int    `json:"defaultMode"`
					} `json:"secret"`
				} `json:"volumes"`
				Containers []struct {
					Name         string `json:"name"`
					VolumeMounts []struct {
						Name      string `json:"name"`
						MountPath string `json:"mountPath"`
						ReadOnly  bool   `json:"readOnly"`
					} `json:"volumeMounts"`
				} `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

// secretVolume is the name and file mode of the volume of that Secret,
// "" when none.
func (p podTemplate) secretVolume(secret string) (string, int) {
	for _, v := range p.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == secret {
			return v.Name, v.Secret.DefaultMode
		}
	}
	return "", 0
}
