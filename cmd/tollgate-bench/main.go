// Command tollgate-bench is Tollgate's load benchmark (`make bench`). It
// builds and starts Tollgate on PostgreSQL + Redis, seeds clients, users,
// codes and refresh tokens, drives each scenario over loopback with vegeta,
// and prints one table, also written to docs/benchmarks.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/debug"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

type options struct {
	postgres string
	redis    string
	duration time.Duration
	workers  int
	out      string
	big      int
	only     *regexp.Regexp // when set, only the scenarios it matches run
	profile  string         // when set, a CPU profile of the server per scenario is written here
}

// wants reports whether the scenario named name is to run.
func (o options) wants(name string) bool { return o.only == nil || o.only.MatchString(name) }

func main() {
	var o options
	flag.StringVar(&o.postgres, "postgres", envOr("TOLLGATE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL server (a database is created and dropped on it)")
	flag.StringVar(&o.redis, "redis", envOr("TOLLGATE_BENCH_REDIS", "redis://127.0.0.1:6379/13"), "Redis database to use; it is FLUSHED")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each scenario")
	flag.IntVar(&o.workers, "workers", 16, "concurrent clients")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "where to write the report (empty: do not write)")
	flag.IntVar(&o.big, "big", 1_000_000, "users and live refresh tokens in the large-database scenarios (0: skip them)")
	only := flag.String("only", "", "run only the scenarios whose name matches this regular expression, without the start-up times and the other servers (for quick before/after comparisons)")
	flag.StringVar(&o.profile, "profile", "", "directory to write CPU profiles of the server and of the load generator for each scenario (go tool pprof <file>)")
	flag.Parse()
	// The load generator shares the machine with the server: at GOGC=100
	// its own collections took about a sixth of its CPU time. Its live heap
	// is small, so collecting a quarter as often costs little memory and
	// leaves that CPU to the server.
	debug.SetGCPercent(400)
	if *only != "" {
		o.only = regexp.MustCompile(*only)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "tollgate-bench:", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, o options) error {
	var ref references
	var startup startupTimes
	// The references take a few seconds and give the relative targets
	// their meaning, so they are measured even for a partial run.
	ref = measureReferences()
	fmt.Printf("reference: %.0f RS256 signatures/s, %.0f argon2id hashes/s (%d cores)\n", ref.signaturesPerSec, ref.hashesPerSec, runtime.NumCPU())
	if o.only == nil {
		var err error
		if startup, err = embeddedStartup(ctx); err != nil {
			return err
		}
	}

	t, err := startTarget(ctx, o)
	if err != nil {
		return err
	}
	defer t.close(context.Background())
	// Once ready, the server still makes its next signing keys and returns
	// start-up garbage to the OS; idle is after that.
	time.Sleep(2 * time.Second)
	idle, _ := t.rss()
	f, err := seed(ctx, t, o)
	if err != nil {
		return err
	}
	r := report{ref: ref, startup: startup, idleRSS: idle, options: o}
	r.rows = append(r.rows, scenarios(ctx, t, o, f, "")...)
	if o.big > 0 {
		perUser, err := seedBig(ctx, t, o.big)
		if err != nil {
			return err
		}
		r.bytesPerUser = perUser
		r.rows = append(r.rows, bigScenarios(ctx, t, o, f, fmt.Sprintf(" (%s users)", humanCount(o.big)))...)
	}
	t.close(context.Background())
	if o.only == nil || o.wants(es256Suffix) {
		es, err := es256Scenarios(ctx, o)
		if err != nil {
			return err
		}
		r.rows = append(r.rows, es...)
	}
	r.finish()
	fmt.Print(r.table())
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(r.markdown()), 0o644); err != nil {
			return err
		}
		fmt.Println("written to", o.out)
	}
	return nil
}

// scenarios runs every scenario once, each on fresh seeded material.
func scenarios(ctx context.Context, t *target, o options, f *fixture, suffix string) []outcome {
	var rows []outcome
	add := func(row outcome) {
		if row.Name != "" {
			rows = append(rows, row.print())
		}
	}
	add(saturate(t, o, "discovery", repeat(vegeta.Target{Method: http.MethodGet, URL: t.issuer + "/.well-known/openid-configuration"})))
	add(saturate(t, o, "jwks", repeat(vegeta.Target{Method: http.MethodGet, URL: t.issuer + "/.well-known/jwks.json"})))
	add(saturate(t, o, "client_credentials", clientCredentials(t)))
	add(saturate(t, o, "introspection", introspection(t, f)))
	add(saturate(t, o, "userinfo", repeat(vegeta.Target{
		Method: http.MethodGet, URL: t.issuer + "/userinfo", Header: http.Header{"Authorization": {"Bearer " + f.accessToken}},
	})))
	rows = append(rows, bigScenarios(ctx, t, o, f, suffix)...)
	return rows
}

// bigScenarios are the ones repeated on the large database: the token
// grants and the sign-in flows.
func bigScenarios(_ context.Context, t *target, o options, f *fixture, suffix string) []outcome {
	var rows []outcome
	add := func(row outcome) {
		if row.Name != "" {
			rows = append(rows, row.print())
		}
	}
	// Enough material for a generous rate over the whole duration.
	n := int(o.duration.Seconds() * 1500)
	// vegeta copies a target's header into each request, so one serves all.
	webAuth := basicAuth(webClient, webSecret)
	if !o.wants("authorization_code exchange" + suffix) {
		// skipped
	} else if err := f.issueCodes(n); err != nil {
		fmt.Println("  ", err)
	} else {
		t.settle()
		add(relative(true, measureSigning, func() outcome {
			return attack(t, o, "authorization_code exchange"+suffix, each(f.codes, func(c issuedCode) vegeta.Target {
				return vegeta.Target{Method: http.MethodPost, URL: t.issuer + "/token", Header: webAuth,
					Body: []byte(exchangeForm(c.code, c.pkce).Encode())}
			}))
		}))
	}
	if !o.wants("refresh_token" + suffix) {
		// skipped
	} else if err := f.issueRefreshTokens(t, n); err != nil {
		fmt.Println("  ", err)
	} else {
		t.settle()
		add(relative(true, measureSigning, func() outcome {
			return attack(t, o, "refresh_token"+suffix, each(f.refresh, func(rt string) vegeta.Target {
				return vegeta.Target{Method: http.MethodPost, URL: t.issuer + "/token", Header: webAuth,
					Body: []byte(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode())}
			}))
		}))
	}
	tr := o.transport()
	signIn := "password sign-in (authorize→login→code→token)" + suffix
	add(relative(o.wants(signIn), measureHashing, func() outcome {
		return flow(t, o, signIn, func(w int) error {
			b := newBrowser(t.issuer, tr)
			p := newPKCE()
			code, err := b.authorize(webClient, f.users[w], password, p)
			if err != nil {
				return err
			}
			_, err = postToken(b.client, t.issuer, webClient, webSecret, exchangeForm(code, p))
			return err
		})
	}))
	add(flow(t, o, "single sign-on (authorize→code→token)"+suffix, func(w int) error {
		b := f.sessions[w]
		p := newPKCE()
		code, err := b.authorize(webClient, "", "", p)
		if err != nil {
			return err
		}
		_, err = postToken(b.client, t.issuer, webClient, webSecret, exchangeForm(code, p))
		return err
	}))
	return rows
}

// relative runs a scenario with a target relative to a reference rate,
// measuring the reference just before and just after it and taking the
// higher: the best case, as the references are meant to be (just after a
// scenario the database can still be busy with it, which slowed the
// argon2id reference by up to a fifth). A skipped scenario measures
// nothing.
func relative(run bool, reference func() float64, scenario func() outcome) outcome {
	if !run {
		return outcome{}
	}
	before := reference()
	row := scenario()
	row.Reference = max(before, reference())
	return row
}

func humanCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// print shows a row as soon as its scenario ends.
func (o outcome) print() outcome {
	fmt.Printf("%-52s %8.0f/s  clients %-3d p50 %-9v p99 %-9v errors %d  server CPU/op %v  machine CPU/op %v  load generator CPU/op %v\n", o.Name, o.Throughput, o.Clients, o.P50.Round(10*time.Microsecond), o.P99.Round(10*time.Microsecond), o.Errors, o.CPUPerOp.Round(time.Microsecond), o.MachinePerOp.Round(time.Microsecond), o.LoadPerOp.Round(time.Microsecond))
	return o
}

// es256Scenarios repeats the scenarios that sign or verify access tokens on
// a server configured with access_token_signing_alg: ES256.
func es256Scenarios(ctx context.Context, o options) ([]outcome, error) {
	t, err := startTarget(ctx, o, "TOLLGATE_ACCESS_TOKEN_SIGNING_ALG=ES256")
	if err != nil {
		return nil, err
	}
	defer t.close(context.Background())
	f, err := seed(ctx, t, o)
	if err != nil {
		return nil, err
	}
	return []outcome{
		saturate(t, o, "client_credentials"+es256Suffix, clientCredentials(t)).print(),
		saturate(t, o, "introspection"+es256Suffix, introspection(t, f)).print(),
	}, nil
}

// es256Suffix marks the rows measured with ES256 access tokens.
const es256Suffix = " (ES256 access tokens)"

func clientCredentials(t *target) vegeta.Targeter {
	return repeat(vegeta.Target{
		Method: http.MethodPost, URL: t.issuer + "/token", Header: basicAuth(m2mClient, m2mSecret),
		Body: []byte("grant_type=client_credentials&scope=api%3Aread"),
	})
}

func introspection(t *target, f *fixture) vegeta.Targeter {
	return repeat(vegeta.Target{
		Method: http.MethodPost, URL: t.issuer + "/introspect", Header: basicAuth(webClient, webSecret),
		Body: []byte(url.Values{"token": {f.accessToken}}.Encode()),
	})
}
