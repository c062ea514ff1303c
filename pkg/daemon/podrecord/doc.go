// Package podrecord holds the controller's address records of this
// node's pods, fed by the pod informer, and lets CNI ADD wait for a pod's
// record without polling.
package podrecord
