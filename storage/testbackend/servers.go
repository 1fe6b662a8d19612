package testbackend

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// PostgresServer is a PostgreSQL instance of the test's own, on a free port,
// that the test may stop and start: fault tests cannot stop the shared one.
type PostgresServer struct {
	t    testing.TB
	bin  string // directory of initdb, pg_ctl and postgres
	dir  string
	port int
	as   []string // the command prefix that runs a program as the postgres user
}

// StartPostgres initializes and starts a PostgreSQL instance. PostgreSQL
// refuses to run as root, so as root it runs as the postgres user.
func StartPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		unreachable(t, "PostgreSQL server binaries are not installed (/usr/lib/postgresql/*/bin)")
	}
	p := &PostgresServer{t: t, bin: filepath.Dir(bins[len(bins)-1]), port: freePort(t)}
	p.dir = t.TempDir()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			unreachable(t, "running as root and there is no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		// The parent directories must be traversable by that user.
		for d := p.dir; d != filepath.Dir(d); d = filepath.Dir(d) {
			if info, err := os.Stat(d); err == nil && info.Mode().Perm()&0o001 == 0 {
				_ = os.Chmod(d, info.Mode().Perm()|0o001)
			}
		}
		if err := os.Chown(p.dir, uid, gid); err != nil {
			t.Fatalf("chown %s: %v", p.dir, err)
		}
		p.as = []string{"runuser", "-u", "postgres", "--"}
	}
	p.run("initdb", "-D", filepath.Join(p.dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync")
	p.Start()
	t.Cleanup(func() { p.ctl("stop", "-m", "immediate") })
	return p
}

// URL is the DSN of the instance's postgres database.
func (p *PostgresServer) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Start starts the instance and waits until it accepts connections.
func (p *PostgresServer) Start() {
	p.t.Helper()
	p.ctl("start", "-w", "-l", filepath.Join(p.dir, "log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir))
}

// Stop stops the instance at once, dropping every connection.
func (p *PostgresServer) Stop() {
	p.t.Helper()
	p.ctl("stop", "-w", "-m", "fast")
}

func (p *PostgresServer) ctl(args ...string) {
	p.t.Helper()
	p.run("pg_ctl", append([]string{"-D", filepath.Join(p.dir, "data")}, args...)...)
}

func (p *PostgresServer) run(program string, args ...string) {
	p.t.Helper()
	argv := append(append(append([]string{}, p.as...), filepath.Join(p.bin, program)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		p.t.Fatalf("%s %v: %v\n%s\n%s", program, args, err, out, log)
	}
}

// RedisServer is a Redis instance of the test's own, on a free port, that
// the test may stop, start and flush.
type RedisServer struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// StartRedis starts a Redis instance that keeps nothing on disk.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		unreachable(t, "redis-server is not installed")
	}
	r := &RedisServer{t: t, port: freePort(t)}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// URL is the instance's redis:// URL.
func (r *RedisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// Start starts the instance (empty) and waits until it answers.
func (r *RedisServer) Start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.t.TempDir())
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer client.Close()
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		if client.Ping(context.Background()).Err() == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatal("redis-server did not answer")
		}
	}
}

// Stop kills the instance; it loses everything.
func (r *RedisServer) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	_ = r.cmd.Wait()
	r.cmd = nil
}

// FlushAll empties the instance, as an operator's FLUSHALL or an eviction
// storm would.
func (r *RedisServer) FlushAll() {
	r.t.Helper()
	r.do(func(c *redis.Client) error { return c.FlushAll(context.Background()).Err() }, "flushall")
}

// ConfigSet sets a configuration parameter of the instance, as CONFIG SET.
func (r *RedisServer) ConfigSet(name, value string) {
	r.t.Helper()
	r.do(func(c *redis.Client) error { return c.ConfigSet(context.Background(), name, value).Err() }, "config set "+name)
}

// do runs cmd on a client of its own and fails the test if it fails.
func (r *RedisServer) do(cmd func(*redis.Client) error, what string) {
	r.t.Helper()
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer client.Close()
	if err := cmd(client); err != nil {
		r.t.Fatalf("%s: %v", what, err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
