package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// target is a Tollgate process under load, with its own PostgreSQL database
// and Redis database, and the binary that also serves as its CLI.
type target struct {
	bin     string
	issuer  string
	environ []string
	dbURL   string
	dbName  string
	adminDB string // the server's maintenance database, for CREATE/DROP
	cmd     *exec.Cmd
	logs    *os.File // the server's standard output and error
	pprof   string   // the server's private metrics and pprof address, when profiling
}

// benchSecret is the system secret of the throwaway deployment.
const benchSecret = "tollgate-bench-secret-0123456789abcdefghijkl"

// startTarget builds tollgate, creates a fresh database and starts serve.
func startTarget(ctx context.Context, o options, env ...string) (*target, error) {
	dir, err := os.MkdirTemp("", "tollgate-bench-")
	if err != nil {
		return nil, err
	}
	t := &target{adminDB: o.postgres}
	if t.bin, err = buildTollgate(ctx, dir); err != nil {
		return nil, err
	}

	t.dbName = "tollgate_bench_" + randomHex(4)
	conn, err := pgx.Connect(ctx, o.postgres)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", o.postgres, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+t.dbName); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	t.dbURL, err = withDatabase(o.postgres, t.dbName)
	if err != nil {
		return nil, err
	}
	ropts, err := redis.ParseURL(o.redis)
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(ropts)
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return nil, fmt.Errorf("flush redis database %d: %w", ropts.DB, err)
	}

	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	t.issuer = "http://" + addr
	t.environ = append(os.Environ(),
		"TOLLGATE_ISSUER="+t.issuer,
		"TOLLGATE_DATABASE_URL="+t.dbURL,
		"TOLLGATE_REDIS_URL="+o.redis,
		"TOLLGATE_SECRET="+benchSecret,
		// Pre-issued codes must outlive the seeding of the others.
		"TOLLGATE_CODE_LIFETIME=30m",
		"TOLLGATE_DATA_DIR="+dir,
	)
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return nil, err
		}
		if t.pprof, err = freeAddr(); err != nil {
			return nil, err
		}
		t.environ = append(t.environ, "TOLLGATE_METRICS_LISTEN="+t.pprof)
	}
	t.environ = append(t.environ, env...)
	if _, err := t.cli(ctx, "", "migrate", "up"); err != nil {
		return nil, err
	}
	start := time.Now()
	t.cmd = exec.Command(t.bin, "serve")
	t.cmd.Env = t.environ
	// The server logs at the default level, info: one access log line per
	// request, appended to a file, as a log collector would take them.
	// Each scenario starts it afresh (see measure), which keeps it from
	// growing to gigabytes.
	if t.logs, err = os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	t.cmd.Stdout, t.cmd.Stderr = t.logs, t.logs
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start serve: %w", err)
	}
	if err := t.waitReady(ctx); err != nil {
		t.stop()
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "tollgate serving %s (ready in %v)\n", t.issuer, time.Since(start).Round(time.Millisecond))
	return t, nil
}

func (t *target) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(t.issuer + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	logs, _ := os.ReadFile(t.logs.Name())
	return fmt.Errorf("tollgate did not become ready:\n%s", logs)
}

// cli runs a tollgate command against the deployment and returns stdout.
func (t *target) cli(ctx context.Context, stdin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, t.bin, args...)
	cmd.Env = t.environ
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tollgate %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// cliJSON runs a command and decodes its JSON output.
func (t *target) cliJSON(ctx context.Context, v any, stdin string, args ...string) error {
	out, err := t.cli(ctx, stdin, args...)
	if err != nil {
		return err
	}
	return json.Unmarshal(out, v)
}

// buildTollgate builds the binary into dir and installs it there the way a
// package or an image would: as a new file. The linker's output, run at
// once, maps some 8 MiB more of its pages (the page cache holds it in large
// pieces that the kernel maps whole), which is not what a deployment sees.
func buildTollgate(ctx context.Context, dir string) (string, error) {
	built := filepath.Join(dir, "tollgate.build")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", built, "./cmd/tollgate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build tollgate: %w", err)
	}
	defer os.Remove(built)
	bin := filepath.Join(dir, "tollgate")
	if err := install(built, bin); err != nil {
		return "", fmt.Errorf("install tollgate: %w", err)
	}
	return bin, nil
}

func install(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// startProfile records a CPU profile of the server for d into dir/name.pprof,
// and one of the load generator, this process, for the whole scenario into
// dir/name-load.pprof, when profiling; the returned function waits for the
// first to be written and ends the second.
func (t *target) startProfile(dir, name string, d time.Duration) (wait func()) {
	if t.pprof == "" || d < 2*time.Second {
		return func() {}
	}
	file := filepath.Join(dir, strings.NewReplacer(" ", "_", "/", "_", "→", "-", "(", "", ")", "").Replace(name))
	stopLoad := profileSelf(file + "-load.pprof")
	done := make(chan struct{})
	go func() {
		defer close(done)
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.pprof, int((d - time.Second).Seconds()))
		resp, err := http.Get(url)
		if err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
			return
		}
		defer resp.Body.Close()
		out, err := os.Create(file + ".pprof")
		if err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
			return
		}
		defer out.Close()
		if _, err := io.Copy(out, resp.Body); err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
		}
	}()
	return func() { <-done; stopLoad() }
}

// profileSelf starts a CPU profile of this process into file; the returned
// function ends it.
func profileSelf(file string) (stop func()) {
	out, err := os.Create(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		out.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		out.Close()
	}
}

// settle lets PostgreSQL catch up with the seeding just done (tens of
// thousands of rows in a few seconds) before a measurement, as pgbench
// vacuums before its runs: otherwise the autovacuum and the checkpoint it
// provoked run during the next scenario and are counted against it.
// A settling that fails (CHECKPOINT needs a superuser or pg_checkpoint) is
// reported and the scenario runs all the same.
func (t *target) settle() {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, t.dbURL)
	if err != nil {
		fmt.Println("   settle:", err)
		return
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{"VACUUM (ANALYZE) tokens", "CHECKPOINT"} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			fmt.Printf("   settle: %s: %v\n", stmt, err)
		}
	}
}

// resetPeakRSS starts a new peak-RSS measurement (Linux clear_refs 5).
func (t *target) resetPeakRSS() {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", t.cmd.Process.Pid), []byte("5"), 0)
}

// cpuTime returns the CPU time (user and system, all threads) the process
// has used so far. Under a load generator on the same cores, the server's
// CPU time per operation is a steadier figure than its throughput.
func (t *target) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", t.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// machineBusy returns the CPU time all cores have spent busy so far (every
// state of /proc/stat's cpu line but idle and iowait).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTicks = 100

// rss returns the process's current and peak resident set size in bytes.
func (t *target) rss() (current, peak int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", t.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch key {
		case "VmRSS":
			current = kb * 1024
		case "VmHWM":
			peak = kb * 1024
		}
	}
	return current, peak
}

func (t *target) stop() {
	if t.cmd == nil || t.cmd.Process == nil {
		return
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- t.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = t.cmd.Process.Kill()
	}
	_ = t.logs.Close()
}

// close stops the server and drops its database.
func (t *target) close(ctx context.Context) {
	t.stop()
	conn, err := pgx.Connect(ctx, t.adminDB)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+t.dbName+" WITH (FORCE)")
	_ = os.RemoveAll(filepath.Dir(t.bin))
}

func withDatabase(dsn, name string) (string, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "", fmt.Errorf("postgres URL: %w", err)
	}
	if cfg.Database == "" {
		return "", errors.New("postgres URL names no database")
	}
	i := strings.LastIndex(dsn, "/"+cfg.Database)
	if i < 0 {
		return "", errors.New("postgres URL: cannot place the benchmark database")
	}
	return dsn[:i+1] + name + dsn[i+1+len(cfg.Database):], nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
