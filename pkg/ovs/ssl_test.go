package ovs_test

import (
	"testing"

	"github.com/ovnet/ovnet/pkg/ovs"
)

// SetSSL writes what `ovs-vsctl set-ssl` shows, updates the same row when
// a value changes, writes nothing when none does, and DeleteSSL leaves no
// row and no reference.
func TestSSL(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	mark := map[string]string{"ovnet.io/owner": "ovnet-daemon"}
	first := ovs.SSL{PrivateKey: "/tls/tls.key", Certificate: "/tls/tls.crt", CACert: "/tls/ca.crt", ExternalIDs: mark}
	f.step(t, 1, func() error { return f.client.SetSSL(ctx, first) })
	f.step(t, 0, func() error { return f.client.SetSSL(ctx, first) })
	if got, want := f.vsctl(t, "get-ssl"), "Private key: /tls/tls.key\nCertificate: /tls/tls.crt\nCA Certificate: /tls/ca.crt\nBootstrap: false"; got != want {
		t.Errorf("get-ssl:\n%s\nwant:\n%s", got, want)
	}
	uuid := f.vsctl(t, "get", "open_vswitch", ".", "ssl")

	rotated := first
	rotated.CACert = "/tls/ca-2.crt"
	f.step(t, 1, func() error { return f.client.SetSSL(ctx, rotated) })
	if got := f.vsctl(t, "get", "open_vswitch", ".", "ssl"); got != uuid {
		t.Errorf("ssl row %s after a change, want the same row %s updated", got, uuid)
	}
	got, err := f.client.SSL()
	if err != nil || got == nil || got.CACert != "/tls/ca-2.crt" || got.ExternalIDs["ovnet.io/owner"] != "ovnet-daemon" {
		t.Errorf("SSL() = %+v, %v; want the rotated CA and the mark", got, err)
	}

	f.step(t, 1, func() error { return f.client.DeleteSSL(ctx) })
	f.step(t, 0, func() error { return f.client.DeleteSSL(ctx) })
	if got := f.vsctl(t, "--bare", "--columns=_uuid", "list", "ssl"); got != "" {
		t.Errorf("SSL rows left: %q", got)
	}
	if got, err := f.client.SSL(); err != nil || got != nil {
		t.Errorf("SSL() after delete = %+v, %v; want none", got, err)
	}
}
