package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/pkarena/pkarena/load/demo"
	"github.com/pkarena/pkarena/load/metrics"
)

// exitMismatch is the demo's exit code for a server that answered wrongly; it is the same
// as a load run's lost messages.
const exitMismatch = metrics.ExitLost

func runDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o := demo.DefaultOptions()
	fs := flag.NewFlagSet("pkarena-load demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := envLookup(getenv)
	fs.StringVar(&o.Target, "target", env("TARGET_URL", ""), "server WebSocket URL; empty starts the embedded reference server (env PKARENA_TARGET_URL)")
	fs.StringVar(&o.RESTURL, "rest", env("REST_URL", ""), "REST root; empty derives it from -target (env PKARENA_REST_URL)")
	fs.StringVar(&o.Secret, "secret", env("SECRET", o.Secret), "application secret (env PKARENA_SECRET)")
	fs.StringVar(&o.Admin, "admin", env("ADMIN", o.Admin), "REST administrator identifier (env PKARENA_ADMIN)")
	appID := env("SDKAPPID", strconv.FormatUint(o.SDKAppID, 10))
	fs.StringVar(&appID, "sdkappid", appID, "application ID (env PKARENA_SDKAPPID)")
	fs.IntVar(&o.Viewers, "viewers", o.Viewers, "viewers per room")
	fs.IntVar(&o.Gifts, "gifts", o.Gifts, "gifts sent during the battle")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "battle duration (whole seconds)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "random seed of the gift stream")
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	n, err := strconv.ParseUint(appID, 10, 64)
	if err != nil {
		fmt.Fprintf(stderr, "pkarena-load demo: sdkappid %q: not an unsigned integer\n", appID)
		return metrics.ExitUsage
	}
	o.SDKAppID = n
	fmt.Fprintln(stdout, "pkarena demo: a PK battle with gifts, end to end")
	switch err := demo.Run(ctx, o, stdout); {
	case err == nil:
		return metrics.ExitOK
	case errors.Is(err, demo.ErrMismatch):
		return exitMismatch
	default:
		fmt.Fprintln(stderr, "pkarena-load demo:", err)
		return metrics.ExitError
	}
}
