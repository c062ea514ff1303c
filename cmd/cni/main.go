// Command ovnet is the CNI plugin: the container runtime executes it, and
// it forwards each command to the node's ovnet-daemon and prints the answer.
package main

import (
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/ovnet/ovnet/pkg/cni"
)

func main() {
	skel.PluginMainFuncs(cni.Plugin{}.Funcs(), version.PluginSupports(cni.SupportedVersions...),
		"ovnet: pods on OVN, through the node's ovnet-daemon")
}
