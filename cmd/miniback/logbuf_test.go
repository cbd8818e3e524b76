package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLogBuffer: info lines are batched and written in order, a warning
// flushes at once (with the lines before it), the rest follow within the
// flush interval, and Close leaves nothing behind.
func TestLogBuffer(t *testing.T) {
	out := &syncBuffer{}
	b := newLogBuffer(out)
	log := slog.New(flushOnWarn{slog.NewJSONHandler(b, nil), b})
	log.Info("one")
	log.Info("two")
	if out.String() != "" {
		t.Fatalf("info lines written at once: %q", out.String())
	}
	log.Warn("three")
	got := out.String()
	if !(strings.Index(got, `"one"`) < strings.Index(got, `"two"`) && strings.Index(got, `"two"`) < strings.Index(got, `"three"`)) || !strings.Contains(got, `"one"`) {
		t.Fatalf("a warning did not flush the lines before it in order: %q", got)
	}
	log.With("k", "v").Info("four")
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(out.String(), `"four"`) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out.String(), `"four"`) {
		t.Fatal("a buffered line was never flushed")
	}
	log.Info("five")
	b.Close()
	b.Close()
	if !strings.Contains(out.String(), `"five"`) {
		t.Fatal("Close lost a line")
	}
}
