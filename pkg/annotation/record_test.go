package annotation

import "testing"

func TestParseAddress(t *testing.T) {
	full := func(edit func(map[string]string)) map[string]string {
		m := map[string]string{Allocated: True, IPAddress: "10.16.0.5", CIDRWritten: "10.16.0.0/16",
			GatewayWritten: "10.16.0.1", MACAddress: "0a:00:00:10:00:05", LogicalSwitch: "ovn-default"}
		if edit != nil {
			edit(m)
		}
		return m
	}
	tests := []struct {
		name    string
		in      map[string]string
		ok      bool
		wantErr bool
	}{
		{"complete", full(nil), true, false},
		{"not yet allocated", full(func(m map[string]string) { delete(m, Allocated) }), false, false},
		{"bad ip", full(func(m map[string]string) { m[IPAddress] = "10.16.0" }), true, true},
		{"bad mac", full(func(m map[string]string) { m[MACAddress] = "zz" }), true, true},
		{"bad cidr", full(func(m map[string]string) { m[CIDRWritten] = "10.16.0.0" }), true, true},
		{"missing gateway", full(func(m map[string]string) { delete(m, GatewayWritten) }), true, true},
		{"ip outside subnet", full(func(m map[string]string) { m[IPAddress] = "10.17.0.5" }), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, ok, err := ParseAddress(tt.in)
			if ok != tt.ok || (err != nil) != tt.wantErr {
				t.Fatalf("ParseAddress = %+v, %v, %v; want ok %v, error %v", addr, ok, err, tt.ok, tt.wantErr)
			}
			if tt.ok && !tt.wantErr && addr.Prefix().String() != "10.16.0.5/16" {
				t.Fatalf("Prefix() = %s, want 10.16.0.5/16", addr.Prefix())
			}
		})
	}
}
