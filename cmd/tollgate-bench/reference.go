package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/jackc/pgx/v5"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/passwords"
)

// references are the costs no implementation can avoid, measured on this
// machine with every core busy: the bounds the targets are relative to.
type references struct {
	signaturesPerSec float64 // RS256, 2048-bit
	hashesPerSec     float64 // argon2id at the default parameters
}

func measureReferences() references {
	return references{signaturesPerSec: measureSigning(), hashesPerSec: measureHashing()}
}

// measureSigning returns the RS256 signatures per second all cores make.
func measureSigning() float64 {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, nil)
	if err != nil {
		panic(err)
	}
	payload := []byte(`{"iss":"http://127.0.0.1","sub":"user","aud":["client"],"exp":1900000000,"iat":1800000000,"jti":"0123456789abcdef"}`)
	return rate(func() error {
		_, err := signer.Sign(payload)
		return err
	})
}

// measureHashing returns the argon2id hashes per second all cores make at
// the default parameters.
func measureHashing() float64 {
	d := config.Default()
	hasher, err := passwords.New(passwords.Params{MemoryKiB: d.Argon2MemoryKiB, Iterations: d.Argon2Iterations, Parallelism: d.Argon2Parallelism})
	if err != nil {
		panic(err)
	}
	return rate(func() error {
		_, err := hasher.Hash(password)
		return err
	})
}

// rate runs op on every core for about a second and returns its rate. It
// runs at Go's default GOGC, as the server does, not at the load
// generator's: argon2id allocates 19 MiB a hash, and with the load
// generator's rarer collections each hash touched fresh memory, which
// slowed the reference by a third once the process held the scenarios'
// fixtures.
func rate(op func() error) float64 {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	runtime.GC()
	r := testing.Benchmark(func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	return float64(r.N) / r.T.Seconds()
}

// startupTimes are how long `tollgate serve` on the embedded default takes
// to answer /readyz: on a new data directory (migrations, key generation)
// and on an existing one.
type startupTimes struct{ first, again time.Duration }

func embeddedStartup(ctx context.Context) (startupTimes, error) {
	dir, err := os.MkdirTemp("", "tollgate-startup-")
	if err != nil {
		return startupTimes{}, err
	}
	defer os.RemoveAll(dir)
	bin, err := buildTollgate(ctx, dir)
	if err != nil {
		return startupTimes{}, err
	}
	once := func() (time.Duration, error) {
		addr, err := freeAddr()
		if err != nil {
			return 0, err
		}
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(), "TOLLGATE_DATA_DIR="+filepath.Join(dir, "data"), "TOLLGATE_ISSUER=http://"+addr)
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		for time.Since(start) < 30*time.Second {
			if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return time.Since(start), nil
				}
			}
			time.Sleep(time.Millisecond)
		}
		return 0, fmt.Errorf("embedded tollgate did not become ready")
	}
	var s startupTimes
	if s.first, err = once(); err != nil {
		return s, err
	}
	s.again, err = once()
	return s, err
}

// seedBig adds n users and n live refresh tokens, as a deployment with a
// large user base holds, and returns the storage each user costs (row and
// indexes, in bytes).
func seedBig(ctx context.Context, t *target, n int) (float64, error) {
	d := config.Default()
	hasher, err := passwords.New(passwords.Params{MemoryKiB: d.Argon2MemoryKiB, Iterations: d.Argon2Iterations, Parallelism: d.Argon2Parallelism})
	if err != nil {
		return 0, err
	}
	hash, err := hasher.Hash(password)
	if err != nil {
		return 0, err
	}
	conn, err := pgx.Connect(ctx, t.dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	fmt.Printf("seeding %d users and %d refresh tokens…\n", n, n)
	start := time.Now()
	if _, err := conn.Exec(ctx, `INSERT INTO users (id, email, email_verified, name, picture, password_hash, disabled, created_at, updated_at)
		SELECT gen_random_uuid()::text, 'big-' || g || '@bench.example', true, 'Bench User ' || g, '', $1, false, now(), now()
		FROM generate_series(1, $2::int) AS g`, hash, n); err != nil {
		return 0, fmt.Errorf("seed users: %w", err)
	}
	// A stored refresh token carries its serialized grant, about a kilobyte.
	if _, err := conn.Exec(ctx, `INSERT INTO tokens (kind, signature, request_id, client_id, subject, jti, active, expires_at, data, created_at)
		SELECT 'refresh_token', encode(sha256(('rt' || g)::bytea), 'base64'), md5('req' || g), $1, 'big-' || g, '', true,
		       now() + interval '30 days', decode(repeat(md5(g::text), 32), 'hex'), now()
		FROM generate_series(1, $2::int) AS g`, webClient, n); err != nil {
		return 0, fmt.Errorf("seed refresh tokens: %w", err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		return 0, err
	}
	var size, count float64
	if err := conn.QueryRow(ctx, `SELECT pg_total_relation_size('users'), (SELECT count(*) FROM users)`).Scan(&size, &count); err != nil {
		return 0, err
	}
	fmt.Printf("seeded in %v\n", time.Since(start).Round(time.Second))
	return size / count, nil
}
