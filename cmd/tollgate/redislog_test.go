package main

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// What the Redis client logs on its own comes out as JSON lines among the
// server's, not as go-redis's plain text.
func TestRedisClientLogsJSON(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String() // nothing listens once closed
	ln.Close()
	c := cli{t, []string{"TOLLGATE_DATA_DIR=" + filepath.Join(t.TempDir(), "data"), "TOLLGATE_REDIS_URL=redis://" + dead + "/0"}}
	r := c.run("", "clients", "list")
	if r.code != exitFailure {
		t.Fatalf("exit %d with Redis down; want %d", r.code, exitFailure)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "tollgate: ") || !strings.Contains(last, "Redis does not answer") {
		t.Fatalf("last line %q; want the error naming Redis", last)
	}
	warned := 0
	for _, l := range lines[:len(lines)-1] {
		var line struct{ Level, Msg, Detail string }
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("stderr line %q is not JSON", l)
		}
		if line.Level == "WARN" && line.Msg == "redis client" && strings.Contains(line.Detail, "failed to dial") {
			warned++
		}
	}
	if warned == 0 {
		t.Fatalf("stderr %q: no warning from the Redis client about the failed dial", r.stderr)
	}
}
