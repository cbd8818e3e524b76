// Command miniback is the backend for WeChat Mini Programs: see SPEC §1.
//
//	miniback serve [--config FILE]
//	miniback sandbox [--listen ADDR] [--config FILE]
//	miniback migrate [--config FILE]
//	miniback version
//	miniback load --target URL [flags]
//
// Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/miniback/miniback/internal/config"
)

const usage = `miniback: the backend for WeChat Mini Programs

Usage:
  miniback serve   [--config FILE]   run the backend (sandbox mode when nothing is configured)
  miniback sandbox [--listen ADDR] [--config FILE]
                                     run only the WeChat sandbox
  miniback migrate [--config FILE]   apply database migrations and exit
  miniback version                   print version, commit and Go version
  miniback config check|print [--config FILE]
                                     validate the configuration, or print it with
                                     every secret masked
  miniback load --target URL [flags] drive virtual users against a sandbox-mode
                                     miniback and report latencies (load --help)
`

// usageError is bad usage or bad configuration: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// run executes one subcommand.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &usageError{"a command is required"}
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], environ, stdout, stderr)
	case "sandbox":
		return runSandbox(ctx, args[1:], environ, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], environ, stdout, stderr)
	case "version":
		return runVersion(stdout)
	case "config":
		return runConfig(args[1:], environ, stdout, stderr)
	case "load":
		return runLoad(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return &usageError{fmt.Sprintf("unknown command %q", args[0])}
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "miniback:", err)
	var ue *usageError
	var ce *config.Error
	if errors.As(err, &ue) || errors.As(err, &ce) {
		return 2
	}
	return 1
}
