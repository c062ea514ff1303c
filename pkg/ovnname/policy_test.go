package ovnname

import (
	"regexp"
	"strings"
	"testing"
)

// ovnIdentifier is what OVN accepts after @ or $ in a match: letters,
// digits, '_' and '.', not starting with a digit.
var ovnIdentifier = regexp.MustCompile(`^[A-Za-z_.][A-Za-z0-9_.]*$`)

func TestNames(t *testing.T) {
	long := strings.Repeat("n", 63)
	tests := []struct {
		name string
		got  string
		want string // "" means: only check validity and length
	}{
		{"policy group", PolicyPortGroup("default", "web-allow"), ""},
		{"deny ingress group", DenyPortGroup("default", Ingress), ""},
		{"deny egress group", DenyPortGroup("default", Egress), ""},
		{"address set", PolicyAddressSet("default", "web-allow", "ingress/0"), ""},
		{"peer address set", PeerAddressSet("pods{app=db} in namespaces{team=a}"), ""},
		{"acl name", PolicyACL("default", "web-allow"), "default/web-allow"},
		{"deny acl name", DenyACL("default", Ingress), "default/ingressDefaultDeny"},
		{"deny egress acl name", DenyACL("default", Egress), "default/egressDefaultDeny"},
		{"long acl name", PolicyACL(long, "p"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want != "" && tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
			if strings.Contains(tt.name, "acl") {
				if len(tt.got) > maxACLName {
					t.Errorf("%q longer than %d", tt.got, maxACLName)
				}
				return
			}
			if !ovnIdentifier.MatchString(tt.got) || strings.Contains(tt.got, "-") {
				t.Errorf("%q is not a valid OVN identifier", tt.got)
			}
		})
	}
}

func TestNamesDeterministicAndDistinct(t *testing.T) {
	if PolicyPortGroup("a", "b") != PolicyPortGroup("a", "b") {
		t.Fatal("port group name not deterministic")
	}
	seen := map[string]string{}
	add := func(name, what string) {
		if prev, ok := seen[name]; ok {
			t.Errorf("%s and %s share the name %s", prev, what, name)
		}
		seen[name] = what
	}
	// Pairs a naive concatenation would confuse.
	for _, pair := range [][2]string{{"a", "b-c"}, {"a-b", "c"}, {"ab", "c"}, {"a", "bc"}, {"b", "a"}, {"a", "b"}} {
		add(PolicyPortGroup(pair[0], pair[1]), "policy "+pair[0]+"/"+pair[1])
		add(PolicyAddressSet(pair[0], pair[1], "ingress/0"), "set "+pair[0]+"/"+pair[1])
	}
	for _, ns := range []string{"a", "b", "ab"} {
		add(DenyPortGroup(ns, Ingress), "deny in "+ns)
		add(DenyPortGroup(ns, Egress), "deny out "+ns)
	}
	long1, long2 := PolicyACL(strings.Repeat("x", 60), "p1"), PolicyACL(strings.Repeat("x", 60), "p2")
	if long1 == long2 {
		t.Errorf("truncated ACL names collide: %q", long1)
	}
	if !strings.HasPrefix(long1, strings.Repeat("x", 54)) {
		t.Errorf("truncated ACL name %q lost its readable head", long1)
	}
}

func FuzzNames(f *testing.F) {
	f.Add("default", "allow-web")
	f.Fuzz(func(t *testing.T, ns, name string) {
		if n := PolicyPortGroup(ns, name); !ovnIdentifier.MatchString(n) {
			t.Fatalf("invalid port group name %q", n)
		}
		if n := PolicyACL(ns, name); len(n) > maxACLName {
			t.Fatalf("ACL name %q too long", n)
		}
	})
}
