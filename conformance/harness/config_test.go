package harness

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Flags win over the environment, which wins over the file, which wins over the defaults.
func TestLoadLayers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pkarena-conformance.yaml")
	yaml := "target_url: ws://file:1/v1/ws\nsecret: from-file\nadmin: file-admin\nevent_timeout: 7s\ndisable: [webhook]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvConfig: path, EnvSecret: "from-env", EnvAdmin: "env-admin"}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s, err := Load(fs, []string{"-admin", "flag-admin"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, got, want string
	}{
		{"target from the file", s.URL, "ws://file:1/v1/ws"},
		{"secret: env over file", s.Secret, "from-env"},
		{"admin: flag over env", s.Admin, "flag-admin"},
		{"event timeout from the file", s.EventTimeout.String(), (7 * time.Second).String()},
		{"sdkappid default", s.Redacted()["sdkappid"], "1400000001"},
		{"secret redacted", s.Redacted()["secret"], "***"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: %q; want %q", tt.name, tt.got, tt.want)
		}
	}
	if len(s.Disable) != 1 || s.Disable[0] != "webhook" {
		t.Errorf("disable = %v; want [webhook] from the file", s.Disable)
	}
}

func TestLoadRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("target_ur1: typo\n"), 0o600)
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"unknown YAML key", nil, map[string]string{EnvConfig: bad}},
		{"missing file", []string{"-config", filepath.Join(dir, "none.yaml")}, nil},
		{"URL and image", []string{"-target", "ws://a/v1/ws", "-target-image", "x:1"}, nil},
		{"not a ws URL", []string{"-target", "http://a"}, nil},
		{"bad tier", []string{"-tiers", "gold"}, nil},
		{"bad timeout", []string{"-event-timeout", "soon"}, nil},
		{"bad image env", []string{"-target-image", "x:1", "-image-env", "NOEQUALS"}, nil},
		{"bad env sdkappid", nil, map[string]string{EnvSDKAppID: "abc"}},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if _, err := Load(fs, tt.args, func(k string) string { return tt.env[k] }); err == nil {
			t.Errorf("%s: Load succeeded; want an error", tt.name)
		}
	}
}
