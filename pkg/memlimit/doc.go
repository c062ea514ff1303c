// Package memlimit gives the Go runtime a soft memory limit under the
// memory limit of the process's cgroup (a container's), so that the
// garbage collector works harder as the heap nears it rather than letting
// garbage take the process past it.
package memlimit
