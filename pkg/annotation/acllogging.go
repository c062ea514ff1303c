package annotation

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ACLLogging on a namespace turns on OVN ACL logging for the network
// policies of that namespace and its default deny: ovn-controller writes a
// line naming the policy for every packet an ACL drops (key "deny") or
// allows (key "allow"). The value is JSON, as in ovn-kubernetes, whose key
// this is: {"deny":"alert","allow":"notice"}; either key may be left out,
// which leaves that verdict unlogged. Severities: alert, warning, notice,
// info, debug.
const ACLLogging = "k8s.ovn.org/acl-logging"

// ACLLogSeverities are the severities OVN accepts for an ACL's log.
var ACLLogSeverities = []string{"alert", "warning", "notice", "info", "debug"}

// ACLLog says which verdicts are logged and at which severity; an empty
// severity means that verdict is not logged.
type ACLLog struct {
	Deny  string `json:"deny,omitempty"`
	Allow string `json:"allow,omitempty"`
}

// ParseACLLogging reads a namespace's ACLLogging annotation. A missing
// annotation logs nothing; a malformed one is an error and logs nothing.
func ParseACLLogging(annotations map[string]string) (ACLLog, error) {
	raw, ok := annotations[ACLLogging]
	if !ok || strings.TrimSpace(raw) == "" {
		return ACLLog{}, nil
	}
	var l ACLLog
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return ACLLog{}, fmt.Errorf("%s: %q is not {\"deny\":SEVERITY,\"allow\":SEVERITY}: %w", ACLLogging, raw, err)
	}
	if dec.More() {
		return ACLLog{}, fmt.Errorf("%s: trailing data after the JSON object in %q", ACLLogging, raw)
	}
	for _, s := range []struct{ key, value string }{{"deny", l.Deny}, {"allow", l.Allow}} {
		if s.value != "" && !validSeverity(s.value) {
			return ACLLog{}, fmt.Errorf("%s: %s severity %q is not one of %s", ACLLogging, s.key, s.value,
				strings.Join(ACLLogSeverities, ", "))
		}
	}
	return l, nil
}

func validSeverity(s string) bool {
	for _, v := range ACLLogSeverities {
		if s == v {
			return true
		}
	}
	return false
}
