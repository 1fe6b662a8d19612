package main

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMUnderLoad runs the real binary, loads it, and sends SIGTERM:
// /readyz turns 503 at once while everything else keeps answering for the
// shutdown delay; clients behave like a load balancer and stop sending once
// they see it; requests in flight finish, no client sees a 5xx or a broken
// connection, and the process exits 0.
func TestSIGTERMUnderLoad(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tollgate")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build: %v", err)
	}
	issuer := "http://" + freeAddr(t)
	cmd := exec.Command(bin, "serve", "--issuer", issuer)
	cmd.Env = append(os.Environ(), "TOLLGATE_DATA_DIR="+filepath.Join(dir, "data"), "TOLLGATE_SHUTDOWN_DELAY=1s")
	var output lockedBuffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitReady(t, issuer)

	var (
		served, drained atomic.Int64
		stop            atomic.Bool
		mu              sync.Mutex
		failures        []string
	)
	fail := func(msg string) {
		mu.Lock()
		failures = append(failures, msg)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for !stop.Load() {
				for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/jwks.json", "/readyz"} {
					resp, err := client.Get(issuer + path)
					if errors.Is(err, syscall.ECONNREFUSED) {
						stop.Store(true) // the listener is closed: this replica is gone
						return
					}
					if err != nil {
						fail(path + ": " + err.Error())
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					switch {
					case path == "/readyz" && resp.StatusCode == http.StatusServiceUnavailable:
						// Like a load balancer, stop sending here once the
						// replica says it is draining.
						drained.Add(1)
						return
					case resp.StatusCode >= 500:
						fail(path + ": " + resp.Status)
					default:
						served.Add(1)
					}
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("tollgate exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("tollgate did not exit after SIGTERM")
	}
	stop.Store(true)
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if t.Failed() {
		t.Logf("tollgate's output:\n%s", output.String())
	}
	if served.Load() == 0 || drained.Load() == 0 {
		t.Fatalf("served %d requests, saw /readyz 503 %d times; want both during the drain", served.Load(), drained.Load())
	}
}

func waitReady(t *testing.T, issuer string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(issuer + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatal("tollgate did not become ready")
}

// lockedBuffer collects a process's output written from two pipes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
