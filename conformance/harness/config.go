package harness

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pkarena/pkarena/conformance/results"
)

// EnvConfig names the YAML configuration file; the -config flag overrides it.
const EnvConfig = "PKARENA_CONFIG"

// Environment variables of the settings the suite binary adds to FromEnv's.
const (
	EnvTargetImage = "PKARENA_TARGET_IMAGE"
	EnvImageEnv    = "PKARENA_IMAGE_ENV"
	EnvResultsDir  = "PKARENA_RESULTS_DIR"
	EnvTiers       = "PKARENA_TIERS"
	EnvDisable     = "PKARENA_DISABLE"
	EnvCertify     = "PKARENA_CERTIFY"
)

// fileSettings is the YAML form of Settings; every key is optional.
type fileSettings struct {
	TargetURL     string        `yaml:"target_url"`
	TargetImage   string        `yaml:"target_image"`
	ImageEnv      []string      `yaml:"image_env"`
	RESTURL       string        `yaml:"rest_url"`
	SDKAppID      uint64        `yaml:"sdkappid"`
	Secret        string        `yaml:"secret"`
	Admin         string        `yaml:"admin"`
	RESTRateLimit int           `yaml:"rest_rate_limit"`
	WebhookListen string        `yaml:"webhook_listen"`
	WebhookSecret string        `yaml:"webhook_secret"`
	EventTimeout  time.Duration `yaml:"event_timeout"`
	ResultsDir    string        `yaml:"results_dir"`
	Tiers         []string      `yaml:"tiers"`
	Disable       []string      `yaml:"disable"`
	Certify       bool          `yaml:"certify"`
}

// Load builds the suite's Settings in layers: defaults, then the YAML file named by -config
// (or PKARENA_CONFIG), then PKARENA_* environment variables, then the flags on fs. It defines
// its flags on fs and parses args. The YAML keys are the flag names with '_' for '-'.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string) (Settings, error) {
	s := defaults()
	var configPath string
	fs.StringVar(&configPath, "config", getenv(EnvConfig), "YAML configuration file (env "+EnvConfig+"); env and flags override it")
	target := fs.String("target", "", "WebSocket URL of the server under test (env "+EnvTargetURL+")")
	image := fs.String("target-image", "", "container image to start and test (env "+EnvTargetImage+")")
	imageEnv := fs.String("image-env", "", "extra environment of the container, KEY=VALUE,KEY=VALUE (env "+EnvImageEnv+")")
	rest := fs.String("rest", "", "REST root of the server (env "+EnvRESTURL+"); default: the target's host")
	_ = fs.String("sdkappid", "", "application ID (env "+EnvSDKAppID+")")
	secret := fs.String("secret", "", "application secret (env "+EnvSecret+")")
	admin := fs.String("admin", "", "REST administrator identifier (env "+EnvAdmin+")")
	_ = fs.String("rest-rate-limit", "", "the server's REST requests per second (env "+EnvRESTRateLimit+")")
	hookListen := fs.String("webhook-listen", "", "host:port where the suite receives webhooks (env "+EnvWebhookListen+")")
	hookSecret := fs.String("webhook-secret", "", "the server's webhook secret (env "+EnvWebhookSecret+")")
	_ = fs.String("event-timeout", "", "wait for an event that must follow at once (env "+EnvEventTimeout+")")
	results := fs.String("results", "", "folder for junit.xml, results.json, report.html, conformance.log (env "+EnvResultsDir+")")
	tiers := fs.String("tiers", "", "tiers to run: core,strict,optional (env "+EnvTiers+"; default all)")
	disable := fs.String("disable", "", "labels or requirement IDs to switch off, comma-separated (env "+EnvDisable+")")
	certify := fs.Bool("certify", false, "certification run: every tier, nothing core disabled, a bundle in the results folder (env "+EnvCertify+"=1)")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	// Layer 2: the file.
	if configPath != "" {
		if err := s.applyFile(configPath); err != nil {
			return s, err
		}
	}
	// Layer 3: the environment (FromEnv's variables and the binary's own).
	env, err := FromEnv(getenv)
	if err != nil {
		return s, err
	}
	s.overlayEnv(env, getenv)
	for _, v := range []struct {
		name string
		dst  *string
	}{{EnvTargetImage, &s.TargetImage}, {EnvResultsDir, &s.ResultsDir}} {
		if x := getenv(v.name); x != "" {
			*v.dst = x
		}
	}
	if x := getenv(EnvImageEnv); x != "" {
		s.ImageEnv = splitList(x)
	}
	if x := getenv(EnvTiers); x != "" {
		s.Tiers = splitList(x)
	}
	if x := getenv(EnvDisable); x != "" {
		s.Disable = splitList(x)
	}
	if x := getenv(EnvCertify); x != "" {
		s.Certify = x == "1" || strings.EqualFold(x, "true")
	}
	// Layer 4: the flags that were set.
	var errs []error
	fs.Visit(func(f *flag.Flag) {
		v := f.Value.String()
		switch f.Name {
		case "target":
			s.URL = *target
		case "target-image":
			s.TargetImage = *image
		case "image-env":
			s.ImageEnv = splitList(*imageEnv)
		case "rest":
			s.RESTURL = *rest
		case "sdkappid":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("-sdkappid %q: not an unsigned integer", v))
			}
			s.SDKAppID = n
		case "secret":
			s.Secret = *secret
		case "admin":
			s.Admin = *admin
		case "rest-rate-limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				errs = append(errs, fmt.Errorf("-rest-rate-limit %q: not a positive integer", v))
			}
			s.RESTRateLimit = n
		case "webhook-listen":
			s.WebhookListen = *hookListen
		case "webhook-secret":
			s.WebhookSecret = *hookSecret
		case "event-timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("-event-timeout %q: not a positive duration like 5s", v))
			}
			s.EventTimeout = d
		case "results":
			s.ResultsDir = *results
		case "tiers":
			s.Tiers = splitList(*tiers)
		case "disable":
			s.Disable = splitList(*disable)
		case "certify":
			s.Certify = *certify
		}
	})
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	return s, s.Validate()
}

// defaults are the settings before any layer.
// Defaults are the settings when no flag, variable or file sets them.
func Defaults() Settings { return defaults() }

func defaults() Settings {
	return Settings{SDKAppID: DefaultSDKAppID, Secret: DefaultSecret, EventTimeout: DefaultEventTimeout, Admin: DefaultAdmin, RESTRateLimit: DefaultRESTRateLimit}
}

func (s *Settings) applyFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	var f fileSettings
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&s.URL, f.TargetURL)
	set(&s.TargetImage, f.TargetImage)
	set(&s.RESTURL, f.RESTURL)
	set(&s.Secret, f.Secret)
	set(&s.Admin, f.Admin)
	set(&s.WebhookListen, f.WebhookListen)
	set(&s.WebhookSecret, f.WebhookSecret)
	set(&s.ResultsDir, f.ResultsDir)
	if f.SDKAppID != 0 {
		s.SDKAppID = f.SDKAppID
	}
	if f.RESTRateLimit != 0 {
		s.RESTRateLimit = f.RESTRateLimit
	}
	if f.EventTimeout != 0 {
		s.EventTimeout = f.EventTimeout
	}
	if f.ImageEnv != nil {
		s.ImageEnv = f.ImageEnv
	}
	if f.Tiers != nil {
		s.Tiers = f.Tiers
	}
	if f.Disable != nil {
		s.Disable = f.Disable
	}
	s.Certify = s.Certify || f.Certify
	return nil
}

// overlayEnv takes from env (FromEnv's result) what the environment set.
func (s *Settings) overlayEnv(env Settings, getenv func(string) string) {
	if getenv(EnvTargetURL) != "" {
		s.URL = env.URL
	}
	if getenv(EnvSDKAppID) != "" {
		s.SDKAppID = env.SDKAppID
	}
	if getenv(EnvSecret) != "" {
		s.Secret = env.Secret
	}
	if getenv(EnvEventTimeout) != "" {
		s.EventTimeout = env.EventTimeout
	}
	if getenv(EnvRESTURL) != "" {
		s.RESTURL = env.RESTURL
	}
	if getenv(EnvAdmin) != "" {
		s.Admin = env.Admin
	}
	if getenv(EnvRESTRateLimit) != "" {
		s.RESTRateLimit = env.RESTRateLimit
	}
	if getenv(EnvWebhookListen) != "" {
		s.WebhookListen = env.WebhookListen
	}
	if getenv(EnvWebhookSecret) != "" {
		s.WebhookSecret = env.WebhookSecret
	}
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// Validate reports settings that cannot work together.
func (s Settings) Validate() error {
	switch {
	case s.URL != "" && s.TargetImage != "":
		return fmt.Errorf("a target URL and a target image were both given: choose one")
	case s.URL != "" && !strings.HasPrefix(s.URL, "ws://") && !strings.HasPrefix(s.URL, "wss://"):
		return fmt.Errorf("target %q: must be a ws:// or wss:// URL such as ws://127.0.0.1:7070/v1/ws", s.URL)
	case s.RESTURL != "" && !strings.HasPrefix(s.RESTURL, "http://") && !strings.HasPrefix(s.RESTURL, "https://"):
		return fmt.Errorf("REST URL %q: must be an http:// or https:// URL", s.RESTURL)
	case s.EventTimeout <= 0 || s.RESTRateLimit < 1:
		return fmt.Errorf("event timeout %v and REST rate limit %d must be positive", s.EventTimeout, s.RESTRateLimit)
	}
	for _, t := range s.Tiers {
		if _, ok := results.ParseTier(t); !ok {
			return fmt.Errorf("tier %q: the tiers are core, strict and optional", t)
		}
	}
	for _, kv := range s.ImageEnv {
		if !strings.Contains(kv, "=") {
			return fmt.Errorf("image env %q: must be KEY=VALUE", kv)
		}
	}
	return nil
}

// Redacted is the configuration for reports: every setting, secrets replaced by "***".
func (s Settings) Redacted() map[string]string {
	red := func(v string) string {
		if v == "" {
			return ""
		}
		return "***"
	}
	m := map[string]string{
		"target_url":      s.URL,
		"target_image":    s.TargetImage,
		"rest_url":        s.RESTURL,
		"sdkappid":        strconv.FormatUint(s.SDKAppID, 10),
		"secret":          red(s.Secret),
		"admin":           s.Admin,
		"rest_rate_limit": strconv.Itoa(s.RESTRateLimit),
		"webhook_listen":  s.WebhookListen,
		"webhook_secret":  red(s.WebhookSecret),
		"event_timeout":   s.EventTimeout.String(),
		"results_dir":     s.ResultsDir,
		"tiers":           strings.Join(s.Tiers, ","),
		"disable":         strings.Join(s.Disable, ","),
		"certify":         strconv.FormatBool(s.Certify),
	}
	var env []string
	for _, kv := range s.ImageEnv {
		k, v, _ := strings.Cut(kv, "=")
		if strings.Contains(strings.ToUpper(k), "SECRET") || strings.Contains(strings.ToUpper(k), "TOKEN") || strings.Contains(strings.ToUpper(k), "PASSWORD") {
			v = red(v)
		}
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	m["image_env"] = strings.Join(env, ",")
	return m
}
