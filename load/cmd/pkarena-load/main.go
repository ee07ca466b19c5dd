// Command pkarena-load is pkarena's load generator. Today it has one subcommand, demo, which
// plays a PK battle with gifts end to end against a server and checks that it adds up; the
// load run, merge and report subcommands come with the load generator proper.
//
//	pkarena-load demo [-target ws://host:port/v1/ws] [-gifts 40] [-duration 4s] [-seed 1]
//
// Settings come from flags, then PKARENA_* environment variables, then defaults.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/pkarena/pkarena/load/demo"
)

// Exit codes.
const (
	exitOK       = 0
	exitError    = 1 // the tool failed (connection refused, server error, ...)
	exitUsage    = 2 // bad flags or environment
	exitMismatch = 4 // the server answered, but wrongly
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" {
		fmt.Fprintln(stderr, "usage: pkarena-load demo [flags]   (pkarena-load demo -h lists the flags)")
		return exitUsage
	}
	switch args[0] {
	case "demo":
		return runDemo(ctx, args[1:], getenv, stdout, stderr)
	}
	fmt.Fprintf(stderr, "pkarena-load: unknown subcommand %q (known: demo)\n", args[0])
	return exitUsage
}

func runDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o := demo.DefaultOptions()
	fs := flag.NewFlagSet("pkarena-load demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv("PKARENA_" + name); v != "" {
			return v
		}
		return def
	}
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
		return exitUsage
	}
	n, err := strconv.ParseUint(appID, 10, 64)
	if err != nil {
		fmt.Fprintf(stderr, "pkarena-load demo: sdkappid %q: not an unsigned integer\n", appID)
		return exitUsage
	}
	o.SDKAppID = n
	fmt.Fprintln(stdout, "pkarena demo: a PK battle with gifts, end to end")
	switch err := demo.Run(ctx, o, stdout); {
	case err == nil:
		return exitOK
	case errors.Is(err, demo.ErrMismatch):
		return exitMismatch
	default:
		fmt.Fprintln(stderr, "pkarena-load demo:", err)
		return exitError
	}
}
