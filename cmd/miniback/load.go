package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/load"
)

const loadUsage = `Usage: miniback load --target URL [flags]

Drives virtual users through the real flows of a miniback in sandbox mode
(sandbox login codes, login, GET /me, refresh, phone, signed and encrypted
pushes) and reports per step: count, rate, p50, p90, p99, max and errors by
status and error code. Closed model by default (each user's next step as
soon as the last answered); --rate R makes it open (R arrivals per second
whatever the answers). Ctrl-C stops it and still prints the report.

  miniback load --target http://127.0.0.1:8080 --users 50 --duration 30s
  miniback load --target http://127.0.0.1:8080 --rate 2000 --mix me=20,login=1 --report load.html
  miniback load --target http://127.0.0.1:8080 --find-max --slo-p99 500ms --target-rps 20000
  miniback load --target http://127.0.0.1:8080 --mix gateway=1 --gateway-path /api/v1/{appid}/shop/items \
                --gateway-direct http://127.0.0.1:9001/items

Flags:
`

// runLoad is `miniback load`.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, opts, err := parseLoadFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if isTerminal(stderr) {
		cfg.Progress = func(p load.Progress) { printProgress(stderr, p) }
	}
	demo := config.DemoApp()
	rep, err := load.Run(ctx, cfg, config.DemoAppID, func() (string, string, string) {
		return demo.Token, demo.AESKey, demo.MsgFormat
	})
	var fe *load.FlagError
	if errors.As(err, &fe) {
		return &usageError{fe.Error()}
	}
	if err != nil {
		return err
	}
	if cfg.Progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err := writeLoadReport(rep, opts, stdout); err != nil {
		return err
	}
	if !rep.Succeeded() {
		return errors.New("load: no request succeeded")
	}
	return nil
}

type loadOptions struct {
	json   bool
	report string
}

// parseLoadFlags reads the flags; a zero or negative --rate, --duration or
// --users given explicitly is a usage error naming the flag (left unset,
// they take their defaults).
func parseLoadFlags(args []string, stderr io.Writer) (load.Config, loadOptions, error) {
	var cfg load.Config
	var opts loadOptions
	var mix string
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), loadUsage); fs.PrintDefaults() }
	fs.StringVar(&cfg.Target, "target", "", "base `URL` of the miniback under load (loopback unless --allow-remote)")
	fs.StringVar(&cfg.WeChat, "wechat", "", "base `URL` of the sandbox the target uses (default: the target)")
	fs.StringVar(&cfg.AppID, "appid", "", "app to log users into (default: the sandbox-mode demo app)")
	fs.IntVar(&cfg.Users, "users", 10, "virtual users")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to run (each stage with --find-max)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "arrivals per second (open model; default: closed model)")
	fs.StringVar(&mix, "mix", load.DefaultMix, "relative weights of the steps me, login, refresh, phone, push, gateway")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow a target that is not a loopback address")
	fs.StringVar(&cfg.PushToken, "token", "", "the app's push token (default: the demo app's)")
	fs.StringVar(&cfg.PushAESKey, "aes-key", "", "the app's EncodingAESKey, for encrypted pushes (default: the demo app's)")
	fs.StringVar(&cfg.PushFormat, "msg-format", "", "the app's push format, JSON or XML (default: the demo app's)")
	fs.BoolVar(&cfg.FindMax, "find-max", false, "ramp the rate until p99 passes --slo-p99 or errors pass 1 %, and report the highest rate that held")
	fs.DurationVar(&cfg.SLOP99, "slo-p99", 500*time.Millisecond, "with --find-max: the p99 a stage must keep")
	fs.Float64Var(&cfg.TargetRPS, "target-rps", 0, "with --find-max: print the instances needed, ceil(R × 1.2 / capacity)")
	fs.StringVar(&cfg.GatewayPath, "gateway-path", "", "the gateway step's `PATH` on the target ({appid} is replaced)")
	fs.StringVar(&cfg.GatewayDirect, "gateway-direct", "", "the upstream `URL` the gateway step also calls directly, for comparison")
	fs.BoolVar(&opts.json, "json", false, "print the report as one JSON object")
	fs.StringVar(&opts.report, "report", "", "also write a self-contained HTML report to `FILE.html`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, opts, err
		}
		return cfg, opts, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return cfg, opts, &usageError{"unexpected arguments: " + fs.Arg(0)}
	}
	if cfg.Target == "" {
		return cfg, opts, &usageError{"--target: required, e.g. --target http://127.0.0.1:8080"}
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		switch {
		case err != nil:
		case f.Name == "rate" && cfg.Rate <= 0:
			err = &usageError{"--rate: must be a positive number of arrivals per second"}
		case f.Name == "duration" && cfg.Duration <= 0:
			err = &usageError{"--duration: must be a positive duration such as 10s"}
		case f.Name == "users" && cfg.Users <= 0:
			err = &usageError{"--users: must be a positive number"}
		}
	})
	if err != nil {
		return cfg, opts, err
	}
	if cfg.Mix, err = load.ParseMix(mix); err != nil {
		return cfg, opts, &usageError{"--mix: " + err.Error()}
	}
	return cfg, opts, nil
}

// writeLoadReport prints rep as text or JSON and writes the HTML page.
func writeLoadReport(rep *load.Report, opts loadOptions, stdout io.Writer) error {
	if opts.report != "" {
		f, err := os.Create(opts.report)
		if err != nil {
			return fmt.Errorf("load: --report: %w", err)
		}
		err = rep.WriteHTML(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("load: --report: %w", err)
		}
	}
	if opts.json {
		enc := json.NewEncoder(stdout)
		return enc.Encode(rep)
	}
	return rep.WriteText(stdout)
}

// printProgress rewrites the live progress line.
func printProgress(w io.Writer, p load.Progress) {
	stage := ""
	if p.Stage != "" {
		stage = p.Stage + "  "
	}
	fmt.Fprintf(w, "\r\033[K%s%5.0fs  %d requests  %.0f/s  %d errors  p99 %.1fms",
		stage, p.Elapsed.Seconds(), p.Requests, p.Rate, p.Errors, p.P99ms)
}

// isTerminal reports whether w is a terminal (not a pipe or a file).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
