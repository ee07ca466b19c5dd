package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// The whole demo against the embedded server: it must add up.
func TestDemoAddsUp(t *testing.T) {
	o := DefaultOptions()
	o.Gifts, o.Duration = 12, time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, o, &out); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"battle:", "ended:   reason 0", "rank 1", "check:", "OK"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
