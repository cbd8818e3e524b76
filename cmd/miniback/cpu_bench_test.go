package main

import (
	"syscall"
	"testing"
	"time"
)

// cpuPerOp measures the CPU time (user and system, all threads) the
// process spends from now until the returned function is called, and
// reports it per operation as cpu-ns/op. On a machine shared with other
// work it is steadier than ns/op, which counts waiting too. In process,
// the benchmark's own client work is included.
func cpuPerOp(b *testing.B) func() {
	b.Helper()
	start := processCPU(b)
	return func() {
		b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op")
	}
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
