package runner

import (
	"strings"
	"testing"
)

func TestCheckDisable(t *testing.T) {
	for _, tt := range []struct {
		entries []string
		bad     string // the entry the error must name; "" for none
	}{
		{nil, ""},
		{[]string{"auth", "network"}, ""},
		{[]string{"AUTHZ-003", "FAULT-002"}, ""},
		{[]string{"auth", "NOPE-999"}, "NOPE-999"},
		{[]string{"Auth"}, "Auth"}, // labels are matched exactly, as the suite matches them
	} {
		err := CheckDisable(tt.entries)
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("%q: %v; want accepted", tt.entries, err)
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)):
			t.Errorf("%q: %v; want an error naming %q", tt.entries, err, tt.bad)
		}
	}
}
