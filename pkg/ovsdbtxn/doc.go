// Package ovsdbtxn holds what ovnet's two OVSDB clients (northbound and
// Open_vSwitch) share about transactions: their metrics and the reading of
// their results.
package ovsdbtxn
