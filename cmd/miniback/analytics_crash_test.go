package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/config"
)

// TestKill9AfterEventsAccepted kills the process with SIGKILL right after
// it answered 202 to a run of event batches, then restarts it: every
// accepted event is counted, none twice.
func TestKill9AfterEventsAccepted(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	demo := config.DemoApp()
	cfgFile := filepath.Join(dir, "miniback.yaml")
	yaml := fmt.Sprintf(`listen: %q
data_dir: %q
queue:
  ack_wait: 2s
wechat:
  api_base: sandbox
admin:
  api_keys: [%q]
analytics:
  anonymous: true
  datacube_at: "off"
apps:
  - appid: %s
    secret: %s
    token: %s
    aes_key: %s
    msg_format: JSON
`, addr, filepath.Join(dir, "data"), adminKey, demo.AppID, demo.Secret, demo.Token, demo.AESKey)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	const batches, perBatch = 30, 20
	now := time.Now()
	p := startProcess(t, cfgFile, addr)
	for b := range batches {
		var events []map[string]any
		for i := range perBatch {
			events = append(events, map[string]any{"name": "crash", "ts": now.UnixMilli(), "device_id": fmt.Sprintf("dev-%d-%d", b, i)})
		}
		st, body := postJSON(t, p.base+"/api/v1/"+demo.AppID+"/events", map[string]any{"events": events})
		if st != 202 || body["accepted"] != float64(perBatch) {
			t.Fatalf("batch %d: %d %v", b, st, body)
		}
	}
	if err := p.cmd.Process.Kill(); err != nil { // SIGKILL right after the last 202
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	p = startProcess(t, cfgFile, addr)
	today := time.Now().In(shanghai).Format(time.DateOnly)
	count := func() (int64, int64) {
		var s seriesAnswer
		getJSON(t, p.base+"/admin/v1/"+demo.AppID+"/analytics/events?name=crash&from="+today+"&to="+today, &s)
		if len(s.Series) != 1 {
			return -1, -1
		}
		return s.Series[0].Count, s.Series[0].Users
	}
	waitFor(t, func() bool { n, _ := count(); return n >= batches*perBatch })
	time.Sleep(500 * time.Millisecond) // a redelivered batch stored twice would show by now
	if n, users := count(); n != batches*perBatch || users != batches*perBatch {
		t.Fatalf("after the restart: %d events of %d devices, want %d of %d", n, users, batches*perBatch, batches*perBatch)
	}
}
