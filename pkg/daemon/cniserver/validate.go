package cniserver

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ovnet/ovnet/pkg/cni"
)

// containerIDPattern is the CNI spec's rule for container IDs: no shell
// metacharacters, no path separators.
var containerIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)

// procNetnsPattern is the netns path of a runtime that hands the plugin
// a process's namespace (cri-dockerd): always a network namespace, so it
// needs no directory of its own in the allowed list.
var procNetnsPattern = regexp.MustCompile(`^/proc/[1-9][0-9]{0,9}/ns/net$`)

// DefaultNetnsDirs are where containerd and CRI-O pin pod network
// namespaces (/var/run is a link to /run on every current distribution,
// but a runtime names the path it was configured with).
var DefaultNetnsDirs = []string{"/run/netns", "/var/run/netns"}

const (
	// maxIfNameLen is IFNAMSIZ less the terminating NUL.
	maxIfNameLen = 15
	// maxContainerIDLen bounds what a runtime may send; real IDs are 64.
	maxContainerIDLen = 256
	// maxQuoted bounds how much of a refused value an error repeats, so a
	// hostile megabyte is not echoed into the log and the answer.
	maxQuoted = 64
)

// rules are the checks of one server: what it accepts as a netns path.
type rules struct {
	// netnsDirs are the directories a pod's netns path may lie directly in.
	netnsDirs []string
}

// validate checks every field cmd uses before anything is touched.
func (v rules) validate(cmd cni.Command, req *cni.Request) error {
	var problems []string
	needsAttachment := cmd == cni.CommandAdd || cmd == cni.CommandDel || cmd == cni.CommandCheck
	if needsAttachment {
		problems = append(problems, containerIDProblems(req.ContainerID)...)
		problems = append(problems, ifNameProblems(req.IfName)...)
	}
	// DEL may come after the namespace is gone: then the runtime sends none.
	if cmd == cni.CommandAdd || cmd == cni.CommandCheck || (cmd == cni.CommandDel && req.Netns != "") {
		problems = append(problems, v.netnsProblems(req.Netns)...)
	}
	if cmd == cni.CommandAdd || cmd == cni.CommandCheck {
		problems = append(problems, podProblems(req.Pod)...)
	}
	if cmd == cni.CommandGC {
		for _, a := range req.ValidAttachments {
			problems = append(problems, containerIDProblems(a.ContainerID)...)
			problems = append(problems, ifNameProblems(a.IfName)...)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", errInvalidRequest, strings.Join(problems, "; "))
	}
	return nil
}

func containerIDProblems(id string) []string {
	if len(id) > maxContainerIDLen || !containerIDPattern.MatchString(id) {
		return []string{fmt.Sprintf("container ID %s must be 1-%d letters, digits, '_', '.' or '-', starting with a letter or digit",
			quote(id), maxContainerIDLen)}
	}
	return nil
}

// ifNameProblems applies the kernel's rule (dev_valid_name) and refuses
// control characters besides, which no runtime sends.
func ifNameProblems(name string) []string {
	if name == "" || len(name) > maxIfNameLen || name == "." || name == ".." ||
		strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' || r == ':' }) {
		return []string{fmt.Sprintf("interface name %s must be 1-%d bytes without '/', ':', spaces or control characters",
			quote(name), maxIfNameLen)}
	}
	return nil
}

// netnsProblems accepts a clean absolute path directly inside one of the
// runtime's netns directories, or a process's /proc/<pid>/ns/net: the
// daemon opens it as root, so any other file is refused unopened.
func (v rules) netnsProblems(path string) []string {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path ||
		strings.ContainsFunc(path, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return []string{fmt.Sprintf("netns %s is not a clean absolute path", quote(path))}
	}
	if procNetnsPattern.MatchString(path) {
		return nil
	}
	dir := filepath.Dir(path)
	for _, allowed := range v.netnsDirs {
		if dir == allowed {
			return nil
		}
	}
	return []string{fmt.Sprintf("netns %s is outside the runtime's netns directories %s (daemon flag --netns-dirs) and is no /proc/<pid>/ns/net",
		quote(path), strings.Join(v.netnsDirs, ", "))}
}

func podProblems(pod cni.PodRef) []string {
	var problems []string
	for _, msg := range validation.IsDNS1123Label(pod.Namespace) {
		problems = append(problems, fmt.Sprintf("pod namespace %s: %s", quote(pod.Namespace), msg))
	}
	// Kubernetes names pods with DNS subdomains (dots allowed); the
	// logical port <pod>.<namespace> stays unambiguous because a
	// namespace is a label.
	for _, msg := range validation.IsDNS1123Subdomain(pod.Name) {
		problems = append(problems, fmt.Sprintf("pod name %s: %s", quote(pod.Name), msg))
	}
	return problems
}

// quote is %q of s, cut after maxQuoted bytes.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:maxQuoted], len(s))
}

// clip is s cut after maxQuoted bytes, for log lines.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return s[:maxQuoted] + "..."
}
