// Command pkarena-load is pkarena's load generator for co-host and PK battle servers.
//
//	pkarena-load run   [-scenario pk] [-set hosts=2000] [-target ws://host:port/v1/ws] [-out DIR]
//	pkarena-load merge -out DIR AGENT_DIR...
//	pkarena-load report DIR
//	pkarena-load bench [-connections 50000] [-servers 3]
//	pkarena-load demo  [-target ws://host:port/v1/ws]
//
// run plays a scenario of fixtures/scenarios against a server (none given: the embedded
// reference server) and writes a results folder: metrics.hlog, .hgrm files, summary.json and
// report.html. merge combines the folders of the agents of a distributed run (-shard i/n);
// report renders report.html again; bench runs the 50,000-connection benchmark on this
// machine; demo plays one PK battle end to end. Settings come from flags, then PKARENA_*
// environment variables, then defaults; each subcommand's -h lists them.
//
// Exit codes (the project's one table, internal/exitcode): 0 passed; 1 a threshold failed
// (capacity: no rate held the SLO); 2 bad usage; 3 the tool failed (the target unreachable,
// results not written); 4 messages were lost or out of order (for demo: the battle did not add
// up); 5 the load generator, not the server, was the bottleneck.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pkarena/pkarena/load/metrics"
	"github.com/pkarena/pkarena/reference/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `usage: pkarena-load <subcommand> [flags]

  run      play a load scenario against a server and write its results
  capacity step a scenario's rate until its thresholds break: the knee, and which side gave way
  merge    combine the results of the agents of a distributed run
  report   render report.html from a results folder
  bench    the 50,000-connection benchmark on this machine
  bench-fanout  pkarena's fan-out beside a bare gorilla/websocket broadcaster, as ratios
  bench-journal the battle journal's cost: the same load against a memory-only and a -state-dir server
  bare-server, bare-client  the two halves of that broadcaster (bench-fanout starts them)
  demo     one PK battle with gifts, end to end, checked
  version  print the version

pkarena-load <subcommand> -h lists a subcommand's flags.

exit: 0 passed; 1 a threshold failed; 2 bad usage; 3 the tool failed (the target unreachable,
results not written); 4 messages lost, out of order, misdelivered or breaking the protocol; 5 the generator was the bottleneck.`

// parseFailed is the exit code of a subcommand whose flags did not parse: 0 when -h asked
// for the usage (printed already), 2 for bad flags.
func parseFailed(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return metrics.ExitOK
	}
	return metrics.ExitUsage
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return metrics.ExitUsage
	}
	switch args[0] {
	case "run":
		return runLoad(ctx, args[1:], getenv, stdout, stderr)
	case "merge":
		return runMerge(args[1:], stdout, stderr)
	case "report":
		return runReport(args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], getenv, stdout, stderr)
	case "capacity":
		return runCapacity(ctx, args[1:], getenv, stdout, stderr)
	case "bench-fanout":
		return runFanoutBench(ctx, args[1:], stdout, stderr)
	case "bench-journal":
		return runJournalBench(ctx, args[1:], stdout, stderr)
	case "bare-server":
		return runBareServer(ctx, args[1:], stdout, stderr)
	case "bare-client":
		return runBareClient(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], getenv, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "pkarena-load", server.Version)
		return metrics.ExitOK
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return metrics.ExitOK
	}
	fmt.Fprintf(stderr, "pkarena-load: unknown subcommand %q\n\n%s\n", args[0], usage)
	return metrics.ExitUsage
}
