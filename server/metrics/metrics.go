// Package metrics collects Tollgate's Prometheus metrics: HTTP traffic by
// route, tokens issued, sign-in outcomes, refresh-token reuse, connection
// pools and the Go runtime. Each server has its own registry; nothing is
// registered globally.
package metrics

import (
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

const namespace = "tollgate"

// Metrics records what the server does. A nil *Metrics records nothing, so
// handlers built without metrics (in tests) need no special case.
type Metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	tokens       *prometheus.CounterVec
	signIns      *prometheus.CounterVec
	refreshReuse prometheus.Counter
	security     *prometheus.CounterVec
}

// New registers the collectors. store may offer its SQL pool (SQLDB) and
// Redis pool (RedisPoolStats); their statistics are exported when it does.
func New(store any) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tokens_issued_total",
			Help: "Successful token endpoint responses by grant type.",
		}, []string{"grant_type"}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sign_ins_total",
			Help: "Sign-in attempts by method and outcome.",
		}, []string{"method", "outcome"}),
		refreshReuse: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "refresh_token_reuse_total",
			Help: "Uses of an already rotated or revoked refresh token (each revokes its family).",
		}),
		security: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "security_events_total",
			Help: "Audit log events by type, outcome and reason (reason throttled: a lockout answer).",
		}, []string{"type", "outcome", "reason"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.tokens, m.signIns, m.refreshReuse, m.security,
	)
	if pooled, ok := store.(interface{ SQLDB() (*sql.DB, error) }); ok {
		if db, err := pooled.SQLDB(); err == nil {
			reg.MustRegister(collectors.NewDBStatsCollector(db, "tollgate"))
		}
	}
	if pooled, ok := store.(interface{ RedisPoolStats() *redis.PoolStats }); ok {
		reg.MustRegister(redisPoolCollector{pooled.RedisPoolStats})
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Request counts and times a request by its route template (never the raw
// path, whose values are unbounded); "unmatched" for a path no route has.
func (m *Metrics) Request(route, method string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// TokenIssued counts a successful token response.
func (m *Metrics) TokenIssued(grantType string) {
	if m != nil {
		m.tokens.WithLabelValues(grantType).Inc()
	}
}

// Sign-in outcomes.
const (
	SignInSuccess = "success"
	SignInFailure = "failure"
)

// SignIn counts a sign-in attempt.
func (m *Metrics) SignIn(method, outcome string) {
	if m != nil {
		m.signIns.WithLabelValues(method, outcome).Inc()
	}
}

// RefreshReuse counts a detected refresh-token reuse.
func (m *Metrics) RefreshReuse() {
	if m != nil {
		m.refreshReuse.Inc()
	}
}

// redisPoolCollector exports go-redis connection pool statistics.
type redisPoolCollector struct {
	stats func() *redis.PoolStats
}

var (
	redisConns = prometheus.NewDesc(namespace+"_redis_pool_connections",
		"Redis pool connections by state.", []string{"state"}, nil)
	redisEvents = prometheus.NewDesc(namespace+"_redis_pool_events_total",
		"Redis pool events: hits, misses and timeouts of connection checkout.", []string{"event"}, nil)
)

func (c redisPoolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- redisConns
	ch <- redisEvents
}

func (c redisPoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(redisConns, prometheus.GaugeValue, float64(s.TotalConns), "total")
	ch <- prometheus.MustNewConstMetric(redisConns, prometheus.GaugeValue, float64(s.IdleConns), "idle")
	ch <- prometheus.MustNewConstMetric(redisEvents, prometheus.CounterValue, float64(s.Hits), "hit")
	ch <- prometheus.MustNewConstMetric(redisEvents, prometheus.CounterValue, float64(s.Misses), "miss")
	ch <- prometheus.MustNewConstMetric(redisEvents, prometheus.CounterValue, float64(s.Timeouts), "timeout")
}

// SecurityEvent counts an audit log event. Types and reasons are the audit
// package's own constants, so the label values stay few.
func (m *Metrics) SecurityEvent(typ, outcome, reason string) {
	m.security.WithLabelValues(typ, outcome, reason).Inc()
}
