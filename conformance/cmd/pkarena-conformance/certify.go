package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/pkarena/pkarena/conformance"
	"github.com/pkarena/pkarena/conformance/harness"
	"github.com/pkarena/pkarena/conformance/results"
	"github.com/pkarena/pkarena/conformance/runner"
	"github.com/pkarena/pkarena/reports"
)

// checkCertifiable refuses a certification run that would leave core specs out: a tier
// selection without core, or a disable entry naming a core spec's requirement or label.
func checkCertifiable(s harness.Settings) error {
	if len(s.Tiers) > 0 && !slices.Contains(s.Tiers, string(results.TierCore)) {
		return fmt.Errorf("tiers %v leave out core, which certification runs in full", s.Tiers)
	}
	byID := conformance.ByID(conformance.Requirements(conformance.SpecMarkdown))
	report := PreviewSpecs(runner.Description)
	for _, sp := range report.SpecReports {
		if sp.LeafNodeType != types.NodeTypeIt {
			continue
		}
		ids := conformance.IDs(sp.FullText())
		if conformance.TierOf(ids, byID) != results.TierCore {
			continue
		}
		for _, d := range s.Disable {
			if slices.Contains(ids, d) || slices.Contains(sp.Labels(), d) {
				return fmt.Errorf("disable %q switches off the core spec %q", d, sp.FullText())
			}
		}
	}
	return nil
}

// productTemplate is the PRODUCT.yaml a vendor fills in, after the CNCF conformance
// repository's (cncf/k8s-conformance instructions).
const productTemplate = `# PRODUCT.yaml: fill in and submit with this folder.
vendor: ""               # the company or project
name: ""                 # the product
version: ""              # the version tested
website_url: ""
repo_url: ""
documentation_url: ""
type: ""                 # distribution, hosted service, installer, ...
description: ""
contact_email_address: ""
# Filled in by pkarena-conformance; do not edit.
pkarena:
  suite_version: %q
  suite_commit: %q
  suite_binary_sha256: %q
  protocol: v1
  certified: %t
  uncertified_features: [%s]
  totals: "%s"
`

// writeBundle writes the certification bundle next to the results: PRODUCT.yaml, README.md
// (how to reproduce) and SHA256SUMS of every file (the suite binary's sum is in results.json
// and PRODUCT.yaml), so a reviewer can check the folder mechanically.
func writeBundle(dir string, res *results.Run, args []string) ([]string, error) {
	product := fmt.Sprintf(productTemplate, res.Suite.Version, res.Suite.Commit, res.Suite.BinarySHA256,
		res.Certified, strings.Join(res.UncertifiedFeatures, ", "), reports.SummaryLine(res.Totals))
	readme := fmt.Sprintf("# pkarena conformance certification\n\nVerdict: **%s**, certified: **%t**.\n\n"+
		"Target: %s\n\nReproduce with pkarena-conformance %s (%s), binary SHA-256 %s:\n\n"+
		"    pkarena-conformance %s\n\nwith the settings of results.json (secrets redacted).\n\n"+
		"Check the folder: `sha256sum -c SHA256SUMS`; the last line of conformance.log reads\n`%s`.\n",
		strings.ToUpper(string(res.Verdict)), res.Certified, res.Target, res.Suite.Version, res.Suite.Commit,
		res.Suite.BinarySHA256, strings.Join(args, " "), reports.SummaryLine(res.Totals))
	var paths []string
	for name, body := range map[string]string{"PRODUCT.yaml": product, "README.md": readme} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	var sums strings.Builder
	for _, name := range []string{"PRODUCT.yaml", "README.md", "conformance.log", "junit.xml", "report.html", "results.json"} {
		sum, err := fileSHA256(filepath.Join(dir, name))
		if err != nil {
			return paths, err
		}
		fmt.Fprintf(&sums, "%s  %s\n", sum, name)
	}
	p := filepath.Join(dir, "SHA256SUMS")
	if err := os.WriteFile(p, []byte(sums.String()), 0o644); err != nil {
		return paths, err
	}
	return append(paths, p), nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
