package main

import (
	"fmt"
	"io"
)

const configUsage = `Usage:
  miniback config check [--config FILE]   validate the configuration (file and MINIBACK_*
                                          variables) without opening anything; exit 2 naming
                                          the first bad key
  miniback config print [--config FILE]   print the effective configuration as YAML, every
                                          secret masked (also those read through *_file)
`

// runConfig runs "config check" and "config print".
func runConfig(args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return &usageError{"config needs check or print"}
	}
	switch args[0] {
	case "check":
		cfg, err := loadConfig("config check", args[1:], environ, stderr, nil)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "configuration ok (%d apps%s)\n", len(cfg.Apps), sandboxNote(cfg.Sandbox))
		return err
	case "print":
		cfg, err := loadConfig("config print", args[1:], environ, stderr, nil)
		if err != nil {
			return err
		}
		out, err := cfg.MarshalMasked()
		if err != nil {
			return err
		}
		_, err = stdout.Write(out)
		return err
	case "help", "-h", "--help":
		fmt.Fprint(stdout, configUsage)
		return nil
	}
	fmt.Fprint(stderr, configUsage)
	return &usageError{fmt.Sprintf("unknown config command %q", args[0])}
}

func sandboxNote(sandbox bool) string {
	if sandbox {
		return ", sandbox mode"
	}
	return ""
}
