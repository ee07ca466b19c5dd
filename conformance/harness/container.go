package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
)

// EnvRequireDocker makes a missing Docker engine an error instead of a skip (CI sets it).
const EnvRequireDocker = "PKARENA_REQUIRE_DOCKER"

// ErrNoDocker is returned when no Docker engine can be reached.
var ErrNoDocker = errors.New("no Docker engine reachable")

// containerReady bounds how long a container may take to accept connections.
const containerReady = 30 * time.Second

// DockerAvailable reports whether a Docker engine answers, and why not.
func DockerAvailable(ctx context.Context) error {
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	defer p.Close()
	if err := p.Health(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	return nil
}

// ContainerEnv is the environment the suite gives a server image: the PKARENA_* settings of
// the reference server, with the embedded server's short timings, listening on addr and
// POSTing webhooks to hookURL. extra (KEY=VALUE) is applied last, so a vendor image can be
// given its own settings.
func ContainerEnv(addr, hookURL string, extra []string) map[string]string {
	cfg := EmbeddedConfig()
	env := map[string]string{
		"PKARENA_LISTEN":                addr,
		"PKARENA_SDKAPPID":              strconv.FormatUint(cfg.SDKAppID, 10),
		"PKARENA_SECRET":                cfg.Secret,
		"PKARENA_HEARTBEAT_INTERVAL":    cfg.HeartbeatInterval.String(),
		"PKARENA_HEARTBEAT_TIMEOUT":     cfg.HeartbeatTimeout.String(),
		"PKARENA_INVITE_TIMEOUT":        cfg.DefaultInviteTimeout.String(),
		"PKARENA_SEND_QUEUE_FRAMES":     strconv.Itoa(cfg.SendQueueFrames),
		"PKARENA_WEBHOOK_URL":           hookURL,
		"PKARENA_WEBHOOK_SECRET":        cfg.WebhookSecret,
		"PKARENA_WEBHOOK_BACKOFF":       cfg.WebhookBackoff.String(),
		"PKARENA_RESUME_WINDOW":         cfg.ResumeWindow.String(),
		"PKARENA_RESUME_HISTORY_FRAMES": strconv.Itoa(cfg.ResumeHistoryFrames),
		"PKARENA_RESUME_HISTORY_BYTES":  strconv.Itoa(cfg.ResumeHistoryBytes),
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// Container is a server image the suite started.
type Container struct {
	// C is the testcontainers handle (fault specs pause, stop and restart it).
	C testcontainers.Container
	// Addr is where it listens: 127.0.0.1:port on the host's network.
	Addr string
}

// StartContainer runs image on the host's network (so it reaches the suite's webhook receiver
// on loopback and listens on a loopback port the suite picked) and waits until it accepts
// connections.
func StartContainer(ctx context.Context, image, hookURL string, extra []string) (*Container, error) {
	if err := DockerAvailable(ctx); err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	env := ContainerEnv(addr, hookURL, extra)
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image: image,
			Env:   env,
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.NetworkMode = "host"
			},
		},
		Started: true,
	})
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", image, err)
	}
	ct := &Container{C: c, Addr: addr}
	if err := ct.WaitReady(ctx); err != nil {
		logs := ct.tail(ctx)
		_ = testcontainers.TerminateContainer(c)
		return nil, fmt.Errorf("%s: %w; its log ends:\n%s", image, err, logs)
	}
	return ct, nil
}

// WaitReady waits until the container accepts TCP connections on Addr.
func (c *Container) WaitReady(ctx context.Context) error {
	deadline := time.Now().Add(containerReady)
	for {
		conn, err := net.DialTimeout("tcp", c.Addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %v: %w", c.Addr, containerReady, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tail returns the end of the container's log, for error messages.
func (c *Container) tail(ctx context.Context) string {
	r, err := c.C.Logs(ctx)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer r.Close()
	b, _ := io.ReadAll(io.LimitReader(r, 1<<20))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Stop terminates and removes the container.
func (c *Container) Stop() {
	if err := testcontainers.TerminateContainer(c.C); err != nil {
		fmt.Fprintln(os.Stderr, "pkarena: removing the container:", err)
	}
}

// freeLoopbackAddr picks a free port on 127.0.0.1.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
