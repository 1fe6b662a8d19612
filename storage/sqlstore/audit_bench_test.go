package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tollgate/tollgate/cputime"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// BenchmarkAppendAuditEvents writes one batch of token.issued events, as
// the audit recorder does every 200 tokens, on PostgreSQL. ns/op is per
// batch; cpu-ns/op is this process's CPU per batch (PostgreSQL's own is not
// in it).
func BenchmarkAppendAuditEvents(b *testing.B) {
	const batch = 200
	ctx := context.Background()
	s := testbackend.Postgres(b)
	events := make([]storage.AuditEvent, batch)
	b.ReportAllocs()
	reportCPU := cputime.ReportPerOp(b)
	for b.Loop() {
		for i := range events {
			events[i] = storage.AuditEvent{
				ID: uuid.Must(uuid.NewV7()).String(), Time: time.Now(), Type: "token.issued",
				Actor: "client:bench", ClientID: "bench", IP: "127.0.0.1", UserAgent: "bench/1.0",
				RequestID: fmt.Sprint("req-", i), Outcome: "success",
				Details: map[string]string{"grant_type": "client_credentials"},
			}
		}
		if err := s.AppendAuditEvents(ctx, events...); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU()
}
