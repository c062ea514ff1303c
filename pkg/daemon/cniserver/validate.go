package cniserver

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ovnet/ovnet/pkg/cni"
)

// containerIDPattern is the CNI spec's rule for container IDs.
var containerIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)

// maxIfNameLen is IFNAMSIZ less the terminating NUL.
const maxIfNameLen = 15

// maxContainerIDLen bounds what a runtime may send; real IDs are 64.
const maxContainerIDLen = 256

// validateRequest checks every field cmd uses before anything is touched.
func validateRequest(cmd cni.Command, req *cni.Request) error {
	var problems []string
	needsAttachment := cmd == cni.CommandAdd || cmd == cni.CommandDel || cmd == cni.CommandCheck
	if needsAttachment {
		problems = append(problems, containerIDProblems(req.ContainerID)...)
		problems = append(problems, ifNameProblems(req.IfName)...)
	}
	// DEL may come after the namespace is gone: then the runtime sends none.
	if cmd == cni.CommandAdd || cmd == cni.CommandCheck || req.Netns != "" {
		if !filepath.IsAbs(req.Netns) || filepath.Clean(req.Netns) != req.Netns {
			problems = append(problems, fmt.Sprintf("netns %q is not a clean absolute path", req.Netns))
		}
	}
	if cmd == cni.CommandAdd || cmd == cni.CommandCheck {
		problems = append(problems, podProblems(req.Pod)...)
	}
	if cmd == cni.CommandGC {
		for _, a := range req.ValidAttachments {
			problems = append(problems, containerIDProblems(a.ContainerID)...)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", errInvalidRequest, strings.Join(problems, "; "))
	}
	return nil
}

func containerIDProblems(id string) []string {
	if len(id) > maxContainerIDLen || !containerIDPattern.MatchString(id) {
		return []string{fmt.Sprintf("container ID %q must be 1-%d letters, digits, '_', '.' or '-', starting with a letter or digit",
			id, maxContainerIDLen)}
	}
	return nil
}

func ifNameProblems(name string) []string {
	if name == "" || len(name) > maxIfNameLen || name == "." || name == ".." ||
		strings.ContainsAny(name, "/: \t\n") {
		return []string{fmt.Sprintf("interface name %q must be 1-%d bytes without '/', ':' or spaces", name, maxIfNameLen)}
	}
	return nil
}

func podProblems(pod cni.PodRef) []string {
	var problems []string
	for _, msg := range validation.IsDNS1123Label(pod.Namespace) {
		problems = append(problems, fmt.Sprintf("pod namespace %q: %s", pod.Namespace, msg))
	}
	for _, msg := range validation.IsDNS1123Subdomain(pod.Name) {
		problems = append(problems, fmt.Sprintf("pod name %q: %s", pod.Name, msg))
	}
	return problems
}
