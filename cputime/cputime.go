// Package cputime reads the CPU time this process has used, for the
// benchmarks that report it beside wall time: on a machine shared with the
// database and a load generator it is the steadier figure.
package cputime

import (
	"syscall"
	"testing"
	"time"
)

// Self returns the CPU time (user and system, all threads) this process has
// used so far, or 0 if it cannot be read.
func Self() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportPerOp starts counting this process's CPU time; the returned function,
// called once b's loop is done, reports it per iteration as cpu-ns/op.
func ReportPerOp(b *testing.B) (stop func()) {
	start := Self()
	return func() {
		b.ReportMetric(float64((Self()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
