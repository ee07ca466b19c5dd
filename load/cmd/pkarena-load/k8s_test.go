package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The Kubernetes example (fixtures/k8s/load-job.yaml) must stay runnable: an Indexed Job
// whose completions match the shards its agents claim, and whose arguments are flags the run
// subcommand knows.
func TestKubernetesJobMatchesTheCommandLine(t *testing.T) {
	data, err := os.ReadFile("../../../fixtures/k8s/load-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		Kind string
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int
			Parallelism    int
			Template       struct {
				Spec struct {
					Containers []struct {
						Args []string
					}
				}
			}
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		job.Kind = ""
		if err := dec.Decode(&job); errors.Is(err, io.EOF) {
			t.Fatal("no Job in the manifest")
		} else if err != nil {
			t.Fatal(err)
		}
		if job.Kind == "Job" {
			break
		}
	}
	if job.Spec.CompletionMode != "Indexed" || job.Spec.Parallelism != job.Spec.Completions {
		t.Errorf("completionMode %q, completions %d, parallelism %d; want Indexed with every agent at once",
			job.Spec.CompletionMode, job.Spec.Completions, job.Spec.Parallelism)
	}
	args := job.Spec.Template.Spec.Containers[0].Args
	if len(args) == 0 || args[0] != "run" {
		t.Fatalf("args %q: want the run subcommand", args)
	}
	var o runOptions
	fs := runFlags(&o, func(string) string { return "" }, io.Discard)
	for _, a := range args[1:] {
		name, value, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if fs.Lookup(name) == nil {
			t.Errorf("argument %q: pkarena-load run has no flag -%s", a, name)
		}
		if name == "shard" {
			n, err := strconv.Atoi(strings.TrimPrefix(value, "$(INDEX)/"))
			if err != nil || n != job.Spec.Completions {
				t.Errorf("-shard=%s with %d completions: want $(INDEX)/%d", value, job.Spec.Completions, job.Spec.Completions)
			}
		}
	}
}
