package server_test

import (
	"context"
	"net/http"
	"testing"

	"golang.org/x/oauth2"
)

// TestAdminAPIUsers: create (policy applied, 409 on a taken email), search,
// update, disable (which signs out everywhere), enable, sign out, delete.
func TestAdminAPIUsers(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		call := func(method, path string, body any) (int, map[string]any) {
			status, out, _ := e.adminCall(adminToken, method, path, body)
			return status, out
		}
		if status, body := call("POST", "/users", map[string]any{"email": "lin@example.com", "password": "Password123!"}); status != http.StatusBadRequest || body["field"] != "password" {
			t.Fatalf("weak password: %d %v", status, body)
		}
		if status, body := call("POST", "/users", map[string]any{"email": "not an email"}); status != http.StatusBadRequest || body["field"] != "email" {
			t.Fatalf("bad email: %d %v", status, body)
		}
		if status, body := call("POST", "/users", map[string]any{"email": testEmail}); status != http.StatusConflict {
			t.Fatalf("taken email: %d %v", status, body)
		}
		status, lin := call("POST", "/users", map[string]any{"email": "Lin@Example.com", "name": "Lin", "password": newPassword, "email_verified": true})
		if status != http.StatusCreated || lin["email"] != "lin@example.com" || lin["has_password"] != true || lin["password"] != nil {
			t.Fatalf("create: %d %v", status, lin)
		}
		id := lin["id"].(string)
		if _, page := call("GET", "/users?email=lin@", nil); len(page["items"].([]any)) != 1 {
			t.Fatalf("search by email: %v", page)
		}
		if status, body := call("PATCH", "/users/"+id, map[string]any{"name": "Lin Yu"}); status != http.StatusOK || body["name"] != "Lin Yu" || body["email"] != "lin@example.com" {
			t.Fatalf("update: %d %v", status, body)
		}

		// Disabling the seeded user ends their grants at once.
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		tok := e.signIn(cfg)
		if status, body := call("POST", "/users/"+e.user.ID+"/disable", nil); status != http.StatusOK || body["disabled"] != true {
			t.Fatalf("disable: %d %v", status, body)
		}
		if e.introspect(tok.AccessToken)["active"] != false {
			t.Error("an access token of a disabled user is still active")
		}
		if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Error("a refresh token of a disabled user still works")
		}
		if _, page := call("GET", "/users?status=disabled", nil); len(page["items"].([]any)) != 1 {
			t.Fatalf("filter disabled: %v", page)
		}
		if status, body := call("POST", "/users/"+e.user.ID+"/enable", nil); status != http.StatusOK || body["disabled"] != false {
			t.Fatalf("enable: %d %v", status, body)
		}
		tok = e.signIn(cfg)
		if status, _ := call("POST", "/users/"+e.user.ID+"/sign-out", nil); status != http.StatusNoContent {
			t.Fatalf("sign out: %d", status)
		}
		if e.introspect(tok.AccessToken)["active"] != false {
			t.Error("an access token survived sign-out everywhere")
		}
		if status, _ := call("DELETE", "/users/"+id, nil); status != http.StatusNoContent {
			t.Fatalf("delete: %d", status)
		}
		if status, body := call("GET", "/users/"+id, nil); status != http.StatusNotFound || body["error"] != "not_found" {
			t.Fatalf("get deleted: %d %v", status, body)
		}
	})
}
