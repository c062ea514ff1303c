package harness

import (
	"os"
	"testing"
)

// TestMain removes what Build compiled once every test ran.
func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBuilds()
	os.Exit(code)
}
