//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// TestConsoleScreenshots renders every admin console page in headless
// Chromium, signed in as an admin through the hosted login page, and
// writes a small PNG of each to docs/admin-console/ for docs/admin.md.
func TestConsoleScreenshots(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "docs", "admin-console")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	issuer, store := consoleServer(t)
	ctx := browser(t)
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}
	shoot := func(name string, actions ...chromedp.Action) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		defer cancel()
		if err := chromedp.Run(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		raw, url, text, err := capture(ctx)
		if err != nil {
			t.Fatalf("%s: screenshot: %v", name, err)
		}
		small, err := shrinkPNG(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(out, name+".png"), small, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s.png: %d bytes, at %s\n%.300s", name, len(small), url, text)
	}

	var billingID string
	shoot("01-sign-in", chromedp.Navigate(issuer+"/admin"), chromedp.WaitVisible("#password", chromedp.ByID))
	shoot("02-clients",
		chromedp.SendKeys("#email", "admin@example.com", chromedp.ByID),
		chromedp.SendKeys("#password", "correct horse battery staple", chromedp.ByID),
		chromedp.Submit("#password", chromedp.ByID),
		chromedp.WaitVisible("table", chromedp.ByQuery))
	shoot("03-new-client",
		chromedp.Navigate(issuer+"/admin/clients/new"),
		chromedp.WaitVisible("#client_name", chromedp.ByID),
		chromedp.SendKeys("#client_name", "Billing Portal", chromedp.ByID),
		chromedp.SendKeys("#redirect_uris", "https://billing.example.com/auth/callback", chromedp.ByID),
		chromedp.SendKeys("#post_logout_redirect_uris", "https://billing.example.com/", chromedp.ByID))
	shoot("04-client-created",
		chromedp.Submit("#client_name", chromedp.ByID),
		chromedp.WaitVisible("code.copy", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector("dd code").textContent`, &billingID))
	shoot("05-users", chromedp.Navigate(issuer+"/admin/users"), chromedp.WaitVisible("table", chromedp.ByQuery))
	shoot("06-user",
		chromedp.Navigate(issuer+"/admin/users/"+grace),
		chromedp.WaitVisible("dl.details", chromedp.ByQuery),
		chromedp.Click(`form[action$="/disable"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(".notice", chromedp.ByQuery))
	shoot("07-keys", chromedp.Navigate(issuer+"/admin/keys"), chromedp.WaitVisible("table", chromedp.ByQuery))
	shoot("09-user-activity",
		chromedp.EmulateViewport(1280, 1180),
		chromedp.Navigate(issuer+"/admin/users/"+barbara),
		chromedp.WaitVisible("#consents-title", chromedp.ByID))
	shoot("10-audit-log",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(issuer+"/admin/audit"),
		chromedp.WaitVisible("table.audit", chromedp.ByQuery))

	// A user without the admin role is turned away.
	if err := chromedp.Run(ctx, chromedp.Navigate(issuer+"/logout"), chromedp.WaitVisible(`button[value=logout]`, chromedp.ByQuery),
		chromedp.Click(`button[value=logout]`, chromedp.ByQuery), chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	shoot("08-not-an-admin",
		chromedp.Navigate(issuer+"/admin"),
		chromedp.WaitVisible("#password", chromedp.ByID),
		chromedp.SendKeys("#email", "alan@example.com", chromedp.ByID),
		chromedp.SendKeys("#password", "correct horse battery staple", chromedp.ByID),
		chromedp.Submit("#password", chromedp.ByID),
		chromedp.WaitVisible(".alert", chromedp.ByQuery))

	if u, err := store.GetUser(context.Background(), grace); err != nil || !u.Disabled {
		t.Fatalf("the disable button did not disable the user: %+v %v", u, err)
	}
	var total int64
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			total += info.Size()
		}
	}
	if total > 1<<20 {
		t.Fatalf("screenshots take %d bytes; keep them under 1 MB", total)
	}
	t.Logf("%d screenshots, %d bytes, in %s", len(entries), total, out)
}

const (
	grace   = "6a1f0d8e-0000-4000-8000-00000000000b"
	barbara = "6a1f0d8e-0000-4000-8000-00000000000e"
)

// consoleServer runs Tollgate in process on SQLite with an admin, a few
// users and clients, and returns its issuer.
func consoleServer(t *testing.T) (string, storage.Store) {
	t.Helper()
	ctx := context.Background()
	store := testbackend.SQLite(t)
	secret := []byte("e2e-console-secret-0123456789-abcdefghijkl")
	keys, err := keyring.New(store, secret, keyring.WithAlgorithms(keyring.RS256))
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	hasher, err := passwords.New(passwords.Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	srv, err := server.New(server.Config{
		Issuer: issuer, AccessTokenLifetime: time.Hour, IDTokenLifetime: time.Hour, RefreshTokenLifetime: 24 * time.Hour,
		CodeLifetime: time.Minute, SessionLifetime: time.Hour, Secret: secret, Passwords: hasher,
		Logger: slog.New(slog.DiscardHandler),
	}, store, keys)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)

	hash, err := hasher.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	now := time.Now().UTC().Truncate(time.Second)
	for i, u := range []storage.User{
		{ID: "6a1f0d8e-0000-4000-8000-00000000000a", Email: "admin@example.com", Name: "Ada Lovelace", Roles: []string{"admin"}},
		{ID: grace, Email: "grace@example.com", Name: "Grace Hopper"},
		{ID: "6a1f0d8e-0000-4000-8000-00000000000c", Email: "alan@example.com", Name: "Alan Turing"},
		{ID: "6a1f0d8e-0000-4000-8000-00000000000d", Email: "edsger@example.com", Name: "Edsger Dijkstra", Disabled: true},
		{ID: barbara, Email: "barbara@example.com", Name: "Barbara Liskov"},
		{ID: "6a1f0d8e-0000-4000-8000-00000000000f", Email: "new.user@example.com"},
	} {
		u.PasswordHash, u.EmailVerified = hash, u.Email != "new.user@example.com"
		u.CreatedAt = now.Add(-time.Duration(40-5*i) * day)
		u.UpdatedAt = u.CreatedAt
		if err := store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range []storage.Client{
		{ID: "web-dashboard", Name: "Web Dashboard", SecretHash: hash, RedirectURIs: []string{"https://dashboard.example.com/callback"},
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}, Scopes: []string{"openid", "profile", "email", "offline_access"}},
		{ID: "mobile-app", Name: "Mobile App", Public: true, RedirectURIs: []string{"com.example.app:/oauth2redirect"},
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}, Scopes: []string{"openid", "profile", "email", "offline_access"}},
		{ID: "reporting-job", Name: "Nightly reporting job", SecretHash: hash, GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}},
	} {
		c.CreatedAt = now.Add(-time.Duration(30-7*i) * day)
		c.UpdatedAt = c.CreatedAt
		if err := store.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	seedActivity(t, store, now)
	return issuer, store
}

// seedActivity gives Barbara two live sessions, two consents and a second
// factor, and the audit log a few older events, for the screenshots of her
// page and of the audit log.
func seedActivity(t *testing.T, store storage.Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	for i, amr := range [][]string{{"pwd", "otp"}, {"pwd"}} {
		start := now.Add(-time.Duration(3+20*i) * time.Hour)
		err := store.CreateSession(ctx, storage.Session{
			ID: fmt.Sprintf("seeded-session-%d", i), UserID: barbara, AuthTime: start, AMR: amr,
			CreatedAt: start, ExpiresAt: start.Add(30 * 24 * time.Hour), UserAgent: "Mozilla/5.0",
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range []storage.Consent{
		{ClientID: "web-dashboard", Scopes: []string{"openid", "profile", "email", "offline_access"}},
		{ClientID: "mobile-app", Scopes: []string{"openid", "profile"}},
	} {
		c.UserID, c.CreatedAt = barbara, now.Add(-time.Duration(9-4*i)*24*time.Hour)
		c.UpdatedAt = c.CreatedAt
		if err := store.SaveConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.SaveMFA(ctx, storage.MFA{UserID: barbara, SealedSecret: []byte("sealed"), Confirmed: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	var events []storage.AuditEvent
	for i, e := range []storage.AuditEvent{
		{Type: "signin.failed", UserID: barbara, ClientID: "web-dashboard", Reason: "bad_password", Outcome: "failure", Details: map[string]string{"method": "password"}},
		{Type: "signin.succeeded", UserID: barbara, ClientID: "web-dashboard", Outcome: "success", Details: map[string]string{"method": "password", "amr": "pwd otp"}},
		{Type: "consent.granted", UserID: barbara, ClientID: "web-dashboard", Outcome: "success", Details: map[string]string{"scope": "openid profile email offline_access"}},
		{Type: "token.issued", UserID: barbara, ClientID: "web-dashboard", Outcome: "success", Details: map[string]string{"grant_type": "authorization_code"}},
		{Type: "token.issued", ClientID: "reporting-job", Actor: "client:reporting-job", Outcome: "success", Details: map[string]string{"grant_type": "client_credentials", "scope": "api:read"}},
	} {
		e.ID = fmt.Sprintf("0190d000-0000-7000-8000-%012d", i)
		e.Time = now.Add(-time.Duration(50-i) * time.Minute)
		if e.Actor == "" {
			e.Actor = "user:" + barbara
		}
		e.IP = "203.0.113.7"
		events = append(events, e)
	}
	if err := store.AppendAuditEvents(ctx, events...); err != nil {
		t.Fatal(err)
	}
}

// shrinkPNG re-encodes a screenshot with at most 256 colours, the most
// frequent ones (the console is flat colours and anti-aliased text), at
// the best compression: a fraction of Chromium's size, and still sharp.
func shrinkPNG(raw []byte) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("decode screenshot: %w", err)
	}
	b := img.Bounds()
	counts := map[color.RGBA]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			counts[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	type entry struct {
		c color.RGBA
		n int
	}
	var all []entry
	for c, n := range counts {
		all = append(all, entry{c, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	pal := color.Palette{}
	for _, e := range all {
		if len(pal) == 256 {
			break
		}
		pal = append(pal, e.c)
	}
	out := image.NewPaletted(b, pal)
	draw.Draw(out, b, img, b.Min, draw.Src)
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, out); err != nil {
		return nil, fmt.Errorf("encode screenshot: %w", err)
	}
	return buf.Bytes(), nil
}
