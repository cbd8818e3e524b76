package main

import (
	"flag"
	"io"

	"github.com/miniback/miniback/internal/config"
)

// loadConfig parses the flags of subcommand name, --config and any extra
// flags setup registers, and loads the configuration; a bad flag is a
// usage error (exit 2). It is shared by serve, sandbox, migrate and config.
func loadConfig(name string, args, environ []string, stderr io.Writer, setup func(*flag.FlagSet)) (config.Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "YAML configuration `file`")
	if setup != nil {
		setup(fs)
	}
	if err := fs.Parse(args); err != nil {
		return config.Config{}, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return config.Config{}, &usageError{"unexpected arguments: " + fs.Arg(0)}
	}
	return config.Load(*file, environ)
}
