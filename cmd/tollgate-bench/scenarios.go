package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/cputime"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Benchmark clients and their secrets.
const (
	m2mClient = "bench-m2m"
	webClient = "bench-web"
	m2mSecret = "bench-m2m-secret-0123456789abcdef"
	webSecret = "bench-web-secret-0123456789abcdef"
	password  = "bench password that is long enough"
)

// outcome is one row of the results table.
type outcome struct {
	Name       string
	Requests   uint64
	Throughput float64 // successful operations per second
	P50, P99   time.Duration
	Errors     uint64
	PeakRSS    int64
	CPUPerOp   time.Duration // the server's CPU time per successful operation
	// MachinePerOp is the CPU time of the whole machine (server, database,
	// Redis, load generator, kernel) per successful operation.
	MachinePerOp time.Duration
	// LoadPerOp is the load generator's own CPU time (this process) per
	// successful operation, a part of MachinePerOp.
	LoadPerOp time.Duration
	// Reference is the rate of the unavoidable cost a relative target is
	// set against (signatures or hashes per second), measured just before
	// and just after the scenario (the higher counts, see relative): this
	// machine's speed drifts from minute to minute.
	Reference float64
	Target    string
	Clients   int // concurrent clients of the load generator
}

// fixture is the seeded state the scenarios consume.
type fixture struct {
	users       []string     // emails, one per worker
	sessions    []*browser   // one signed-in browser per user
	accessToken string       // for introspection and userinfo
	codes       []issuedCode // unredeemed authorization codes
	refresh     []string     // unused refresh tokens
}

type issuedCode struct {
	code string
	pkce pkce
}

func (o options) transport() *http.Transport {
	return &http.Transport{MaxIdleConns: 4 * o.workers, MaxIdleConnsPerHost: 4 * o.workers, IdleConnTimeout: time.Minute}
}

// seed registers the clients and users and signs every user in once, which
// also remembers their consent.
func seed(ctx context.Context, t *target, o options) (*fixture, error) {
	if _, err := t.cli(ctx, "", "clients", "create", "--name", "Bench M2M", "--id", m2mClient, "--secret", m2mSecret,
		"--grant-type", "client_credentials", "--scope", "api:read"); err != nil {
		return nil, err
	}
	if _, err := t.cli(ctx, "", "clients", "create", "--name", "Bench Web", "--id", webClient, "--secret", webSecret,
		"--redirect-uri", callbackURL); err != nil {
		return nil, err
	}
	f := &fixture{}
	tr := o.transport()
	for i := range o.workers {
		email := fmt.Sprintf("user-%d@bench.example", i)
		if _, err := t.cli(ctx, password+"\n", "users", "create", "--email", email, "--password-stdin", "--verified"); err != nil {
			return nil, err
		}
		b := newBrowser(t.issuer, tr)
		p := newPKCE()
		code, err := b.authorize(webClient, email, password, p)
		if err != nil {
			return nil, fmt.Errorf("first sign-in of %s: %w", email, err)
		}
		tok, err := postToken(b.client, t.issuer, webClient, webSecret, exchangeForm(code, p))
		if err != nil {
			return nil, err
		}
		f.users, f.sessions, f.accessToken = append(f.users, email), append(f.sessions, b), tok.AccessToken
	}
	return f, nil
}

// issueCodes fills f.codes with n fresh codes, issued through the users'
// sessions (single sign-on, consent remembered).
func (f *fixture) issueCodes(n int) error {
	codes := make([]issuedCode, n)
	err := f.eachSession(n, func(i int, b *browser) error {
		p := newPKCE()
		code, err := b.authorize(webClient, "", "", p)
		codes[i] = issuedCode{code, p}
		return err
	})
	if err != nil {
		return fmt.Errorf("issue codes: %w", err)
	}
	f.codes = codes
	return nil
}

// issueRefreshTokens fills f.refresh with n refresh tokens.
func (f *fixture) issueRefreshTokens(t *target, n int) error {
	if err := f.issueCodes(n); err != nil {
		return err
	}
	refresh := make([]string, n)
	err := f.eachSession(n, func(i int, b *browser) error {
		tok, err := postToken(b.client, t.issuer, webClient, webSecret, exchangeForm(f.codes[i].code, f.codes[i].pkce))
		refresh[i] = tok.RefreshToken
		return err
	})
	f.codes = nil
	if err != nil {
		return fmt.Errorf("issue refresh tokens: %w", err)
	}
	f.refresh = refresh
	return nil
}

// eachSession calls fn for i in [0, n), spread over the signed-in browsers;
// a browser stops at its first error.
func (f *fixture) eachSession(n int, fn func(i int, b *browser) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, len(f.sessions))
	for w, b := range f.sessions {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i, b); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func basicAuth(id, secret string) http.Header {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return http.Header{"Authorization": r.Header["Authorization"], "Content-Type": {"application/x-www-form-urlencoded"}}
}

// repeat targets the same request again and again.
func repeat(tgt vegeta.Target) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		*t = tgt
		return nil
	}
}

// each targets one request per item, then ends the attack.
func each[T any](items []T, make func(T) vegeta.Target) vegeta.Targeter {
	var next atomic.Int64
	return func(t *vegeta.Target) error {
		i := int(next.Add(1)) - 1
		if i >= len(items) {
			return vegeta.ErrNoTargets
		}
		*t = make(items[i])
		return nil
	}
}

// attack drives tr as fast as o.workers concurrent clients can, for the
// duration or until the targets run out.
func attack(t *target, o options, name string, tr vegeta.Targeter) outcome {
	if !o.wants(name) {
		return outcome{}
	}
	// A response is judged by its status code: MaxBody(0) reads and drops
	// its body instead of keeping a copy of each.
	a := vegeta.NewAttacker(vegeta.Workers(uint64(o.workers)), vegeta.MaxWorkers(uint64(o.workers)),
		vegeta.Connections(o.workers), vegeta.KeepAlive(true), vegeta.Timeout(30*time.Second), vegeta.Redirects(vegeta.NoFollow),
		vegeta.MaxBody(0))
	done := t.measure(o, name)
	var m vegeta.Metrics
	for res := range a.Attack(tr, vegeta.Rate{Freq: 0, Per: time.Second}, o.duration, name) {
		if res.Error == vegeta.ErrNoTargets.Error() {
			continue
		}
		m.Add(res)
	}
	m.Close()
	return done(&m)
}

// Adding clients stops when the machine is this busy, or when p99 passes
// maxP99 (the client_credentials target's bound), or at maxClientsFactor
// times o.workers.
const (
	saturatedBusy    = 0.95
	maxP99           = 25 * time.Millisecond
	maxClientsFactor = 8
)

// saturate runs a repeatable scenario at o.workers clients and then, while
// the machine still had a twentieth of its CPU idle and p99 stayed within
// maxP99, at twice as many. A closed loop of too few clients measures the
// load generator's concurrency, not the server: on the light scenarios 16
// clients left the machine a fifth idle. It keeps the run with the highest
// throughput whose p99 is within maxP99 (the first run if none is), and
// prints each.
func saturate(t *target, o options, name string, tr vegeta.Targeter) outcome {
	if !o.wants(name) {
		return outcome{}
	}
	var best outcome
	for clients := o.workers; clients <= maxClientsFactor*o.workers; clients *= 2 {
		run := o
		run.workers = clients
		row := attack(t, run, name, tr)
		fmt.Print("  trying: ")
		row.print()
		if best.Name == "" || (row.P99 <= maxP99 && row.Throughput > best.Throughput) {
			best = row
		}
		busy := row.MachinePerOp.Seconds() * row.Throughput / float64(runtime.NumCPU())
		if busy >= saturatedBusy || row.P99 > maxP99 {
			break
		}
	}
	return best
}

// flow runs fn in a closed loop on o.workers goroutines for the duration;
// each call is one operation, timed whole.
func flow(t *target, o options, name string, fn func(worker int) error) outcome {
	if !o.wants(name) {
		return outcome{}
	}
	done := t.measure(o, name)
	results := make(chan *vegeta.Result, 1024)
	deadline := time.Now().Add(o.duration)
	var wg sync.WaitGroup
	for w := range o.workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				start := time.Now()
				err := fn(w)
				r := &vegeta.Result{Timestamp: start, Latency: time.Since(start), Code: http.StatusOK}
				if err != nil {
					r.Code, r.Error = 0, err.Error()
				}
				results <- r
			}
		})
	}
	go func() { wg.Wait(); close(results) }()
	var m vegeta.Metrics
	for r := range results {
		m.Add(r)
	}
	m.Close()
	return done(&m)
}

// measure starts measuring a scenario (peak RSS, CPU, and a profile when
// asked); done ends it and makes its row from the load's metrics.
func (t *target) measure(o options, name string) (done func(*vegeta.Metrics) outcome) {
	t.resetPeakRSS()
	_ = t.logs.Truncate(0)
	profiled := t.startProfile(o.profile, name, o.duration)
	cpu, machine, load := t.cpuTime(), machineBusy(), cputime.Self()
	return func(m *vegeta.Metrics) outcome {
		row := toOutcome(t, name, m, t.cpuTime()-cpu, machineBusy()-machine)
		if ok := m.Requests - row.Errors; ok > 0 {
			row.LoadPerOp = (cputime.Self() - load) / time.Duration(ok)
		}
		row.Clients = o.workers
		profiled()
		return row
	}
}

func toOutcome(t *target, name string, m *vegeta.Metrics, cpu, machine time.Duration) outcome {
	_, peak := t.rss()
	errs := m.Requests - uint64(float64(m.Requests)*m.Success+0.5)
	var perOp, machinePerOp time.Duration
	if ok := m.Requests - errs; ok > 0 {
		perOp = cpu / time.Duration(ok)
		machinePerOp = machine / time.Duration(ok)
	}
	if len(m.Errors) > 0 {
		fmt.Printf("  %s errors: %s\n", name, strings.Join(first(m.Errors, 3), "; "))
	}
	return outcome{Name: name, Requests: m.Requests, Throughput: m.Throughput, P50: m.Latencies.P50, P99: m.Latencies.P99, Errors: errs, PeakRSS: peak, CPUPerOp: perOp, MachinePerOp: machinePerOp}
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
