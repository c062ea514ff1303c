package cniserver

import "time"

// stages times the steps of one request, for the debug log: where an
// ADD's time goes is the first question when pods start slowly.
type stages struct {
	last time.Time
	kv   []any
}

func newStages() *stages { return &stages{last: time.Now()} }

// done records the time since the previous step under name.
func (s *stages) done(name string) {
	now := time.Now()
	s.kv = append(s.kv, name, now.Sub(s.last).String())
	s.last = now
}
