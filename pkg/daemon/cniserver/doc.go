// Package cniserver serves the ovnet CNI plugin on the node's unix
// socket: it validates each request, runs ADD, DEL, CHECK, GC and STATUS
// against a pod configurator, and answers with CNI results and errors.
package cniserver
