package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/pkarena/pkarena/load/metrics"
)

// Images of the distributed run (make load-distributed builds them and sets these).
const (
	envServerImage = "PKARENA_SERVER_IMAGE"
	envLoadImage   = "PKARENA_LOAD_IMAGE"
)

// TestDistributedRunOnContainers is the distributed run as a Kubernetes Job makes it
// (fixtures/k8s/load-job.yaml), on real containers: the server image, three agent
// containers of the load image each playing its shard (-shard i/3, one run ID), and the
// merge of their folders, which must hold the whole population, every shard once, nothing
// lost.
func TestDistributedRunOnContainers(t *testing.T) {
	serverImage, loadImage := os.Getenv(envServerImage), os.Getenv(envLoadImage)
	if serverImage == "" || loadImage == "" {
		// go test ./... runs without them; make load-distributed builds the images, sets
		// them, and fails (with PKARENA_REQUIRE_DOCKER=1, as in CI) where Docker is missing.
		t.Skipf("set %s and %s to the images (make load-distributed does)", envServerImage, envLoadImage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if p, err := testcontainers.NewDockerProvider(); err != nil || p.Health(ctx) != nil {
		t.Fatalf("no Docker engine reachable: %v", err)
	}
	addr := freeLoopback(t)
	server, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:              serverImage,
			Env:                map[string]string{"PKARENA_LISTEN": addr, "PKARENA_REST_RATE_LIMIT": "10000"},
			HostConfigModifier: func(hc *container.HostConfig) { hc.NetworkMode = "host" },
		},
		Started: true,
	})
	if err != nil {
		t.Fatalf("server container: %v", err)
	}
	t.Cleanup(func() { _ = testcontainers.TerminateContainer(server) })
	if err := waitListening(addr, 30*time.Second); err != nil {
		t.Fatalf("server container: %v", err)
	}

	const agents, hosts, audience = 3, 12, 2
	results := t.TempDir()
	if err := os.Chmod(results, 0o777); err != nil { // the agents run as 65534
		t.Fatal(err)
	}
	// The agents play small's scenario (pk, latency thresholds relaxed: TestMain), from the
	// folder they share with the test.
	if err := writeBusyPK(filepath.Join(results, "pk.yaml")); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	var running []testcontainers.Container
	for i := 0; i < agents; i++ {
		name := fmt.Sprintf("agent-%d", i)
		dirs = append(dirs, filepath.Join(results, name))
		c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
			ContainerRequest: testcontainers.ContainerRequest{
				Image: loadImage,
				Cmd: []string{"run", "-scenario", "/results/pk.yaml", "-target", "ws://" + addr + "/v1/ws",
					"-set", "hosts=" + strconv.Itoa(hosts), "-set", "audience_per_room=" + strconv.Itoa(audience), "-set", "group_size=3",
					"-set", "gift_rate=30", "-set", "battle_duration=3s", "-set", "ramp_up=1s", "-set", "duration=6s",
					"-shard", fmt.Sprintf("%d/%d", i, agents), "-run-id", "dist", "-agent", name,
					"-out", "/results/" + name, "-no-report", "-quiet",
					// The test is of the distribution and the merge: a busy CI machine may
					// slow the agents' own schedule, which is judged elsewhere.
					"-check-generator=false"},
				HostConfigModifier: func(hc *container.HostConfig) {
					hc.NetworkMode = "host"
					hc.Binds = []string{results + ":/results"}
				},
				WaitingFor: wait.ForExit().WithExitTimeout(3 * time.Minute),
			},
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { _ = testcontainers.TerminateContainer(c) })
		running = append(running, c)
	}
	for i, c := range running { // all created first, then started together: one run
		if err := c.Start(ctx); err != nil {
			t.Fatalf("agent-%d: %v", i, err)
		}
	}
	for i, c := range running {
		st, err := c.State(ctx)
		if err != nil {
			t.Fatalf("agent-%d: %v", i, err)
		}
		if st.ExitCode != metrics.ExitOK {
			t.Errorf("agent-%d exited %d; its log:\n%s", i, st.ExitCode, containerLog(ctx, c))
		}
	}
	merged := filepath.Join(results, "merged")
	code, out, errOut := runCLI(t, append([]string{"merge", "-out", merged, "-no-report"}, dirs...)...)
	if code != metrics.ExitOK {
		t.Fatalf("merge exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	s, err := metrics.ReadSummary(merged)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(hosts * (1 + audience)); s.Counters[metrics.Connections] != want {
		t.Errorf("merged connections %d; want the whole population, %d", s.Counters[metrics.Connections], want)
	}
	if len(s.Agents) != agents || len(s.Warnings) != 0 {
		t.Errorf("merged %d agents with warnings %q; want %d and none", len(s.Agents), s.Warnings, agents)
	}
	if m := s.Metric(metrics.ScoreFanout); m == nil || m.Corrected.Count == 0 || s.Counters[metrics.Lost] != 0 {
		t.Errorf("merged score_fanout %v, lost %d; want samples and nothing lost", m, s.Counters[metrics.Lost])
	}
	t.Logf("3 agent containers against the server container: %d connections, %d score_fanout samples, p99 %.2f ms, merged in %s",
		s.Counters[metrics.Connections], s.Metric(metrics.ScoreFanout).Corrected.Count, s.Metric(metrics.ScoreFanout).Corrected.P99, merged)
}

// freeLoopback returns a loopback address free at the moment.
func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// containerLog is the end of a container's log.
func containerLog(ctx context.Context, c testcontainers.Container) string {
	r, err := c.Logs(ctx)
	if err != nil {
		return err.Error()
	}
	defer r.Close()
	b, _ := io.ReadAll(io.LimitReader(r, 1<<20))
	s := string(b)
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return strings.TrimSpace(s)
}
