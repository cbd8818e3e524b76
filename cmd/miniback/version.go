package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version and commit are set with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = ""
)

func runVersion(stdout io.Writer) error {
	v, c := buildVersion()
	_, err := fmt.Fprintf(stdout, "miniback %s (commit %s, %s)\n", v, c, runtime.Version())
	return err
}

// buildVersion returns the version and commit this binary was built from;
// the commit comes from the VCS stamp when ldflags did not set it.
func buildVersion() (string, string) {
	c := commit
	if info, ok := debug.ReadBuildInfo(); ok && c == "" {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				c = s.Value
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	return version, c
}
