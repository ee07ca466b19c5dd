package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	pkclient "github.com/pkarena/pkarena/conformance/client"
)

// ErrNoImage is returned for fault specs when the target is not a server image: only a
// container can be paused, killed and restarted by the suite.
var ErrNoImage = errors.New("fault specs need a server image (-target-image)")

// FaultServer is a container of the target's image started for one fault spec, so that
// breaking it breaks nothing else the suite runs.
type FaultServer struct {
	*Container
	// URL and RESTURL are its WebSocket endpoint and REST root.
	URL, RESTURL string

	target   *Target
	provider *testcontainers.DockerProvider
}

// StartFaultServer starts a fresh container of the target's image with extra settings
// (KEY=VALUE, applied after the suite's) and no webhook receiver. It is stopped at Stop.
func (t *Target) StartFaultServer(ctx context.Context, extra []string) (*FaultServer, error) {
	if t.TargetImage == "" {
		return nil, ErrNoImage
	}
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	c, err := StartContainer(ctx, t.TargetImage, "", append(append([]string(nil), t.ImageEnv...), extra...))
	if err != nil {
		p.Close()
		return nil, err
	}
	return &FaultServer{
		Container: c, URL: "ws://" + c.Addr + pkclient.Path, RESTURL: "http://" + c.Addr,
		target: t, provider: p,
	}, nil
}

// docker returns the Docker API and the container's ID.
func (f *FaultServer) docker() (client.APIClient, string) {
	return f.provider.Client(), f.C.GetContainerID()
}

// Pause freezes every process of the container (the cgroup freezer): sockets stay open, and
// nothing is read or answered until Unpause.
func (f *FaultServer) Pause(ctx context.Context) error {
	api, id := f.docker()
	if _, err := api.ContainerPause(ctx, id, client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	return nil
}

// Unpause resumes a paused container.
func (f *FaultServer) Unpause(ctx context.Context) error {
	api, id := f.docker()
	if _, err := api.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("unpause: %w", err)
	}
	return nil
}

// Kill sends SIGKILL: the server dies at once, closing nothing cleanly.
func (f *FaultServer) Kill(ctx context.Context) error {
	api, id := f.docker()
	if _, err := api.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	return nil
}

// Terminate stops the server the way an orchestrator does: SIGTERM, then SIGKILL after
// grace, and returns once it has exited.
func (f *FaultServer) Terminate(ctx context.Context, grace time.Duration) error {
	if err := f.C.Stop(ctx, &grace); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return nil
}

// ExitCode is the exit code of the stopped container.
func (f *FaultServer) ExitCode(ctx context.Context) (int, error) {
	st, err := f.C.State(ctx)
	if err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	if st.Running {
		return 0, errors.New("the container is still running")
	}
	return st.ExitCode, nil
}

// Restart starts the stopped container again, on the same address, and waits until it
// accepts connections.
func (f *FaultServer) Restart(ctx context.Context) error {
	if err := f.C.Start(ctx); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	return f.WaitReady(ctx)
}

// Stop removes the container.
func (f *FaultServer) Stop() {
	f.Container.Stop()
	f.provider.Close()
}

// REST is a REST client of this server as the administrator. Its requests time out after
// timeout, so that a frozen server shows as an error the caller retries.
func (f *FaultServer) REST(timeout time.Duration) *pkclient.REST {
	return pkclient.NewREST(pkclient.RESTConfig{
		BaseURL: f.RESTURL, SDKAppID: f.target.SDKAppID, Secret: f.target.Secret, Identifier: f.target.Admin,
		HTTPClient: &http.Client{Timeout: timeout},
	})
}
