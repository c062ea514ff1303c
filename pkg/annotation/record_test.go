package annotation

import "testing"

// dual makes a record dual stack, as Kube-OVN writes it.
func dual(m map[string]string) {
	m[IPAddress] += ",fd00:10:16::5"
	m[CIDRWritten] += ",fd00:10:16::/64"
	m[GatewayWritten] += ",fd00:10:16::1"
}

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
		{"dual stack", full(dual), true, false},
		{"dual stack, IPv6 first", full(func(m map[string]string) {
			dual(m)
			m[IPAddress] = "fd00:10:16::5,10.16.0.5"
		}), true, true},
		{"dual stack, one cidr", full(func(m map[string]string) { dual(m); m[CIDRWritten] = "10.16.0.0/16" }), true, true},
		{"dual stack, IPv6 outside", full(func(m map[string]string) { dual(m); m[IPAddress] = "10.16.0.5,fd00:10:17::5" }), true, true},
		{"three addresses", full(func(m map[string]string) { dual(m); m[IPAddress] += ",fd00:10:16::6" }), true, true},
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
			if fams := addr.Families(); tt.name == "dual stack" && (len(fams) != 2 ||
				fams[1].Prefix.String() != "fd00:10:16::5/64" || fams[1].Gateway.String() != "fd00:10:16::1") {
				t.Fatalf("Families() = %+v, want the IPv6 one second", fams)
			}
		})
	}
}

func TestParseHolding(t *testing.T) {
	held := map[string]string{Allocated: True, IPAddress: "10.0.0.5", MACAddress: "0a:00:00:00:00:01", LogicalSwitch: "s"}
	without := func(key string) map[string]string {
		m := map[string]string{}
		for k, v := range held {
			if k != key {
				m[k] = v
			}
		}
		return m
	}
	tests := []struct {
		name        string
		annotations map[string]string
		wantOK      bool
		wantErr     bool
	}{
		{"holding without cidr and gateway", held, true, false},
		{"not allocated", without(Allocated), false, false},
		{"no ip", without(IPAddress), true, true},
		{"no mac", without(MACAddress), true, true},
		{"no switch", without(LogicalSwitch), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ok, err := ParseHolding(tt.annotations)
			if ok != tt.wantOK || (err != nil) != tt.wantErr {
				t.Fatalf("ParseHolding = %+v, %v, %v; want ok %v, error %v", h, ok, err, tt.wantOK, tt.wantErr)
			}
			if ok && err == nil && (h.IP.String() != "10.0.0.5" || h.LogicalSwitch != "s" || h.MAC.String() != "0a:00:00:00:00:01") {
				t.Fatalf("holding %+v", h)
			}
		})
	}
}

// TestRecordRoundTrip: what the controller writes, the daemon reads back
// unchanged, and a holding alone is not enough for the daemon.
func TestRecordRoundTrip(t *testing.T) {
	want, ok, err := ParseAddress(map[string]string{Allocated: True, IPAddress: "fd00:10:16::5", CIDRWritten: "fd00:10:16::/64",
		GatewayWritten: "fd00:10:16::1", MACAddress: "0a:00:00:10:00:05", LogicalSwitch: "v6"})
	if !ok || err != nil {
		t.Fatalf("ParseAddress: %v %v", ok, err)
	}
	written := want.Annotations()
	got, ok, err := ParseAddress(written)
	if !ok || err != nil || got.IP != want.IP || got.Subnet != want.Subnet || got.Gateway != want.Gateway ||
		got.MAC.String() != want.MAC.String() || got.LogicalSwitch != want.LogicalSwitch {
		t.Fatalf("round trip: %+v, %v, %v; want %+v", got, ok, err, want)
	}
	if !want.Recorded(written) {
		t.Fatal("Recorded is false for the record's own annotations")
	}
	delete(written, GatewayWritten)
	if want.Recorded(written) {
		t.Fatal("Recorded is true without the gateway")
	}
	if _, _, err := ParseAddress(written); err == nil {
		t.Fatal("ParseAddress accepted a record without a gateway")
	}
}

// FuzzParseAddress feeds any values to the record's keys, as a user who
// writes them on a pod before the controller could. Properties: no panic;
// ParseHolding and ParseAddress agree on ok; an accepted holding has an
// unzoned address, a 48-bit MAC (what a veth takes) and a switch name;
// an accepted address lies, with its gateway, in its subnet of the same
// family; and what the controller would write back from it reads back
// the same and is Recorded.
func FuzzParseAddress(f *testing.F) {
	for _, s := range [][6]string{
		{"true", "10.16.0.5", "0a:00:00:10:00:05", "ovn-default", "10.16.0.0/16", "10.16.0.1"},
		{"true", "fd00::5", "0a:00:00:10:00:05", "v6", "fd00::/64", "fd00::1"},
		{"true", "fe80::5%eth0", "0a:00:00:10:00:05", "s", "fe80::/64", "fe80::1"},
		{"true", "::ffff:10.0.0.5", "0a:00:00:10:00:05", "s", "10.0.0.0/8", "10.0.0.1"},
		{"true", "10.0.0.5", "00:00:00:00:fe:80:00:00", "s", "10.0.0.0/8", "10.0.0.1"},
		{"true", " 10.0.0.5 ", "0a-00-00-00-00-01", " s ", "10.0.0.5/8", "10.0.0.1"},
		{"false", "x", "y", "", "z", ""},
		{"true", "10.16.0.5,fd00::5", "0a:00:00:10:00:05", "d", "10.16.0.0/16,fd00::/64", "10.16.0.1,fd00::1"},
		{"true", "10.16.0.5,fd00::5", "0a:00:00:10:00:05", "d", "10.16.0.0/16,fd00::/64", "fd00::1,10.16.0.1"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	f.Fuzz(func(t *testing.T, allocated, ip, mac, ls, cidr, gateway string) {
		in := map[string]string{Allocated: allocated, IPAddress: ip, MACAddress: mac, LogicalSwitch: ls,
			CIDRWritten: cidr, GatewayWritten: gateway}
		h, hOK, hErr := ParseHolding(in)
		addr, ok, err := ParseAddress(in)
		if ok != hOK || (hErr != nil && err == nil) {
			t.Fatalf("ParseHolding %v, %v and ParseAddress %v, %v disagree on %q", hOK, hErr, ok, err, in)
		}
		if hOK && hErr == nil {
			if h.IP.Zone() != "" || h.IP.Is4In6() || !h.IP.IsValid() || len(h.MAC) != 6 || h.LogicalSwitch == "" {
				t.Fatalf("accepted holding %+v from %q", h, in)
			}
		}
		if !ok || err != nil {
			return
		}
		if addr.Holding.IP != h.IP || !addr.Subnet.Contains(addr.IP) || !addr.Subnet.Contains(addr.Gateway) ||
			addr.IP.Is4() != addr.Subnet.Addr().Is4() {
			t.Fatalf("accepted address %+v from %q", addr, in)
		}
		if addr.IPv6.IsValid() && (!addr.IP.Is4() || !addr.IPv6.Is6() || !addr.IPv6Subnet.Contains(addr.IPv6) ||
			!addr.IPv6Subnet.Contains(addr.IPv6Gateway) || addr.IPv6.Zone() != "" || addr.IPv6.Is4In6()) {
			t.Fatalf("accepted dual-stack address %+v from %q", addr, in)
		}
		written := addr.Annotations()
		back, ok, err := ParseAddress(written)
		if !ok || err != nil || back.IP != addr.IP || back.Subnet != addr.Subnet || back.Gateway != addr.Gateway ||
			back.IPv6 != addr.IPv6 || back.IPv6Subnet != addr.IPv6Subnet || back.IPv6Gateway != addr.IPv6Gateway ||
			back.MAC.String() != addr.MAC.String() || back.LogicalSwitch != addr.LogicalSwitch || !addr.Recorded(written) {
			t.Fatalf("round trip of %+v: %+v, %v, %v", addr, back, ok, err)
		}
	})
}
