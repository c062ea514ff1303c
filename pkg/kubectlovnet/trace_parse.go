package kubectlovnet

import (
	"regexp"
	"strings"
)

// flowLine is a logical flow as ovn-trace's detailed output prints it:
// " 6. ls_in_acl_eval (northd.c:7011): MATCH, priority 2001, uuid 1a2b3c4d".
var flowLine = regexp.MustCompile(`^\s*\d+\. (\S+) \([^)]*\): (.*), priority (\d+), uuid ([0-9a-f]+)$`)

// outputLine is ovn-trace's note of a packet leaving a logical port.
var outputLine = regexp.MustCompile(`/\* output to "([^"]+)"`)

// tracedFlow is one logical flow the packet met, with the actions it ran.
type tracedFlow struct {
	Stage    string
	Match    string
	Priority string
	// UUID is the first 8 hex digits of the SB Logical_Flow row.
	UUID    string
	Actions []string
}

// traceResult is what the summary reads from ovn-trace's output.
type traceResult struct {
	Flows []tracedFlow
	// Outputs are the logical ports the packet left by, in order.
	Outputs []string
	// lastOutputFlow indexes the flow whose actions held the last output:
	// a drop after it (the destination switch's egress ACL, behind a
	// router) ends the packet there.
	lastOutputFlow int
}

// parseTrace reads ovn-trace --detailed output.
func parseTrace(out string) traceResult {
	var r traceResult
	var cur *tracedFlow
	for _, line := range strings.Split(out, "\n") {
		if m := flowLine.FindStringSubmatch(line); m != nil {
			r.Flows = append(r.Flows, tracedFlow{Stage: m[1], Match: m[2], Priority: m[3], UUID: m[4]})
			cur = &r.Flows[len(r.Flows)-1]
			continue
		}
		if m := outputLine.FindStringSubmatch(line); m != nil {
			r.Outputs = append(r.Outputs, m[1])
			r.lastOutputFlow = len(r.Flows) - 1
		}
		if cur != nil && strings.HasPrefix(line, "    ") && strings.TrimSpace(line) != "" {
			cur.Actions = append(cur.Actions, strings.TrimSpace(line))
		}
	}
	return r
}

// isACLStage reports whether a stage evaluates ACLs (ls_in_acl_eval,
// ls_out_acl, ls_in_acl_after_lb_eval, ...), not their hints or actions.
func isACLStage(stage string) bool {
	return strings.Contains(stage, "_acl") && !strings.Contains(stage, "hint") && !strings.Contains(stage, "action")
}

// dropped reports whether the flow's actions drop the packet.
func (f tracedFlow) dropped() bool {
	for _, a := range f.Actions {
		if a == "drop;" || strings.HasPrefix(a, "/* drop */") || a == "/* no actions */" {
			return true
		}
	}
	return false
}

func (f tracedFlow) actionText() string { return strings.Join(f.Actions, " ") }
