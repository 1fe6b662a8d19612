package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate/tollgate/clientreg"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/sqlstore"
)

// TestAuditEventsSurviveShutdown: token.issued events, which wait in a
// buffer, are all in the database once serve has shut down, however soon
// after the tokens it stops; a change made with the local CLI is recorded
// too, with the actor cli.
func TestAuditEventsSurviveShutdown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := cli{t, []string{"TOLLGATE_DATA_DIR=" + dir}}
	var client clientreg.View
	c.ok(&client, "", "clients", "create", "--name", "Batch", "--grant-type", "client_credentials", "--scope", "api:read")

	issuer := "http://" + freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--issuer", issuer}, strings.NewReader(""), &bytes.Buffer{}, &stderr,
			[]string{"TOLLGATE_DATA_DIR=" + dir})
	}()
	waitReady(t, issuer)
	cc := clientcredentials.Config{ClientID: client.ClientID, ClientSecret: client.ClientSecret, TokenURL: issuer + "/token", Scopes: []string{"api:read"}}
	const tokens = 5
	for range tokens {
		if _, err := cc.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited with %d: %s", code, stderr.String())
	}

	store, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "tollgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	events, err := store.QueryAuditEvents(context.Background(), storage.AuditQuery{Type: "token.issued", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != tokens {
		t.Fatalf("%d token.issued events stored, want %d", len(events), tokens)
	}
	for _, ev := range events {
		if ev.ClientID != client.ClientID || ev.Details["grant_type"] != "client_credentials" || ev.IP != "127.0.0.1" {
			t.Fatalf("event: %+v", ev)
		}
	}
	created, err := store.QueryAuditEvents(context.Background(), storage.AuditQuery{Type: "admin.client.created", Limit: 10})
	if err != nil || len(created) != 1 || created[0].Actor != "cli" || created[0].ClientID != client.ClientID {
		t.Fatalf("the local client creation in the audit log: %+v %v", created, err)
	}
	if n := strings.Count(stderr.String(), `"type":"token.issued"`); n != tokens {
		t.Fatalf("%d token.issued log lines, want %d", n, tokens)
	}
}
