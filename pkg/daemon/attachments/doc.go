// Package attachments records each pod interface on its OVS port's
// external IDs and reads the records back from OVSDB: DEL, GC, live QoS
// changes and a restarted daemon find every attachment there, with no
// state of the daemon's own.
package attachments
