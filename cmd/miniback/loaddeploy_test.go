package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/miniback/miniback/internal/store/storetest"
)

// TestDeploymentLoad measures three instances behind HAProxy on
// PostgreSQL, Redis and NATS with `miniback load`: login, GET /me and
// push, one step kind at a time. It is a measurement, not a check: it runs
// only with MINIBACK_BENCH_DEPLOYMENT=1 (docs/benchmarks.md has the
// command and the figures) and prints each report.
func TestDeploymentLoad(t *testing.T) {
	if os.Getenv("MINIBACK_BENCH_DEPLOYMENT") == "" {
		t.Skip("a measurement; run with MINIBACK_BENCH_DEPLOYMENT=1")
	}
	d := startDeployment(t, storetest.PostgresURL(t), deployOptions{instances: 3})
	for _, mix := range []string{"login=1", "me=1", "push=1"} {
		var out bytes.Buffer
		args := []string{"--target", d.lb, "--wechat", d.wechat, "--users", "32", "--duration", "10s", "--mix", mix}
		if err := runLoad(t.Context(), args, &out, &out); err != nil {
			t.Errorf("load %s: %v", mix, err)
		}
		t.Logf("miniback load %v\n%s", args, out.String())
	}
}
