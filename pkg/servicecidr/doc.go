// Package servicecidr owns the cluster's Service ranges as ovnet's
// binaries take them: at most one per family, comma separated, as
// kube-apiserver's --service-cluster-ip-range writes them.
package servicecidr
