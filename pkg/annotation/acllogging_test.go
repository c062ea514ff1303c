package annotation

import "testing"

func TestParseACLLogging(t *testing.T) {
	tests := []struct {
		name    string
		value   *string
		want    ACLLog
		wantErr bool
	}{
		{name: "absent"},
		{name: "both", value: ptr(`{"deny":"alert","allow":"notice"}`), want: ACLLog{Deny: "alert", Allow: "notice"}},
		{name: "deny only", value: ptr(`{"deny":"info"}`), want: ACLLog{Deny: "info"}},
		{name: "allow only", value: ptr(`{"allow":"debug"}`), want: ACLLog{Allow: "debug"}},
		{name: "empty object", value: ptr(`{}`)},
		{name: "blank", value: ptr(" ")},
		{name: "bad severity", value: ptr(`{"deny":"loud"}`), wantErr: true},
		{name: "unknown key", value: ptr(`{"drop":"alert"}`), wantErr: true},
		{name: "not json", value: ptr(`deny=alert`), wantErr: true},
		{name: "trailing", value: ptr(`{"deny":"alert"} x`), wantErr: true},
		{name: "wrong type", value: ptr(`{"deny":1}`), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := map[string]string{}
			if tt.value != nil {
				a[ACLLogging] = *tt.value
			}
			got, err := ParseACLLogging(a)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseACLLogging(f *testing.F) {
	for _, s := range []string{`{"deny":"alert","allow":"notice"}`, `{}`, `{"deny":"x"}`, `[`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseACLLogging(map[string]string{ACLLogging: s})
		if err != nil {
			if l != (ACLLog{}) {
				t.Fatalf("error %v with a non-empty result %+v", err, l)
			}
			return
		}
		for _, v := range []string{l.Deny, l.Allow} {
			if v != "" && !validSeverity(v) {
				t.Fatalf("accepted severity %q", v)
			}
		}
	})
}

func ptr(s string) *string { return &s }
