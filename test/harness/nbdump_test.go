package harness

import (
	"slices"
	"testing"
)

func TestNBDumpDiff(t *testing.T) {
	tests := []struct {
		name      string
		have, ref NBDump
		want      []string
	}{
		{"same", NBDump{"A x", "B y"}, NBDump{"A x", "B y"}, nil},
		{"missing", NBDump{"A x"}, NBDump{"A x", "B y"}, []string{"- B y"}},
		{"extra", NBDump{"A x", "C z"}, NBDump{"A x"}, []string{"+ C z"}},
		{"a row twice", NBDump{"A x", "A x"}, NBDump{"A x"}, []string{"+ A x"}},
		{"changed", NBDump{"A x2"}, NBDump{"A x"}, []string{"+ A x2", "- A x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.have.Diff(tt.ref); !slices.Equal(got, tt.want) {
				t.Errorf("Diff = %q, want %q", got, tt.want)
			}
		})
	}
}
