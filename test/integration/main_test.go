package integration

import (
	"os"
	"testing"

	"github.com/ovnet/ovnet/test/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.RemoveBuilds()
	os.Exit(code)
}
