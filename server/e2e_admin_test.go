package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate/tollgate/docs"
	"github.com/tollgate/tollgate/server/admin"
)

// adminCall makes an admin API request and decodes the JSON answer.
func (e *env) adminCall(token, method, path string, body any) (int, map[string]any, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.issuer+"/admin/v1"+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

// TestAdminAPIAuthorization: the bootstrap token creates an admin client;
// that client's client_credentials token with tollgate:admin works, a token
// without the scope is 403, no or a revoked token is 401.
func TestAdminAPIAuthorization(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if status, body, hdr := e.adminCall("", "GET", "/clients", nil); status != http.StatusUnauthorized || body["error"] != "invalid_token" || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("no token: %d %v %v", status, body, hdr)
		}
		if status, _, _ := e.adminCall("not-the-admin-token", "GET", "/clients", nil); status != http.StatusUnauthorized {
			t.Fatalf("wrong token: %d", status)
		}
		status, created, _ := e.adminCall(adminToken, "POST", "/clients", map[string]any{
			"client_name": "Ops scripts", "grant_types": []string{"client_credentials"}, "scope": admin.Scope,
		})
		if status != http.StatusCreated || created["client_secret"] == "" {
			t.Fatalf("create admin client: %d %v", status, created)
		}
		cc := clientcredentials.Config{ClientID: created["client_id"].(string), ClientSecret: created["client_secret"].(string),
			TokenURL: e.issuer + "/token", Scopes: []string{admin.Scope}}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if status, body, _ := e.adminCall(tok.AccessToken, "GET", "/clients", nil); status != http.StatusOK || len(body["items"].([]any)) != 3 {
			t.Fatalf("admin-scoped token: %d %v", status, body)
		}
		plain := clientcredentials.Config{ClientID: confidentialID, ClientSecret: confidentialKey, TokenURL: e.issuer + "/token", Scopes: []string{"api:read"}}
		other, err := plain.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if status, body, _ := e.adminCall(other.AccessToken, "GET", "/clients", nil); status != http.StatusForbidden || body["error"] != "insufficient_scope" {
			t.Fatalf("token without the admin scope: %d %v", status, body)
		}
		req, _ := http.NewRequest("POST", e.issuer+"/revoke", strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(cc.ClientID, cc.ClientSecret)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: %v %v", resp, err)
		}
		if status, _, _ := e.adminCall(tok.AccessToken, "GET", "/clients", nil); status != http.StatusUnauthorized {
			t.Fatalf("revoked admin token: %d", status)
		}
	})
}

// TestAdminAPIClients: create, validate, conflict, page, update, rotate the
// secret (the old one stops working), delete.
func TestAdminAPIClients(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		call := func(method, path string, body any) (int, map[string]any) {
			status, out, _ := e.adminCall(adminToken, method, path, body)
			return status, out
		}
		if status, body := call("POST", "/clients", map[string]any{"client_name": "Bad", "redirect_uris": []string{"http://evil.example/cb"}}); status != http.StatusBadRequest || body["field"] != "redirect_uris" {
			t.Fatalf("http redirect: %d %v", status, body)
		}
		if status, body := call("POST", "/clients", map[string]any{"client_name": "Bad", "redirect_uri": "https://a.example/cb"}); status != http.StatusBadRequest || body["field"] != "redirect_uri" {
			t.Fatalf("unknown field: %d %v", status, body)
		}
		if status, body := call("POST", "/clients", map[string]any{"client_name": 7}); status != http.StatusBadRequest || body["field"] != "client_name" {
			t.Fatalf("wrong type: %d %v", status, body)
		}
		if status, body := call("POST", "/clients", map[string]any{"client_id": publicID, "client_name": "Dup", "redirect_uris": []string{"https://a.example/cb"}}); status != http.StatusConflict {
			t.Fatalf("existing id: %d %v", status, body)
		}
		status, app := call("POST", "/clients", map[string]any{
			"client_id": "zz-batch", "client_name": "Batch job", "grant_types": []string{"client_credentials"}, "scope": "api:read",
		})
		if status != http.StatusCreated {
			t.Fatalf("create: %d %v", status, app)
		}

		// Pages in client_id order: spa, webapp, zz-batch.
		status, page := call("GET", "/clients?page_size=2", nil)
		if status != http.StatusOK || len(page["items"].([]any)) != 2 || page["next_page_token"] != confidentialID {
			t.Fatalf("first page: %d %v", status, page)
		}
		_, page = call("GET", "/clients?page_size=2&page_token="+confidentialID, nil)
		if items := page["items"].([]any); len(items) != 1 || items[0].(map[string]any)["client_id"] != "zz-batch" || page["next_page_token"] != nil {
			t.Fatalf("second page: %v", page)
		}
		if _, page = call("GET", "/clients?name=BATCH", nil); len(page["items"].([]any)) != 1 {
			t.Fatalf("filter by name: %v", page)
		}
		if status, body := call("GET", "/clients?page_size=0", nil); status != http.StatusBadRequest || body["field"] != "page_size" {
			t.Fatalf("bad page size: %d %v", status, body)
		}

		if status, body := call("PATCH", "/clients/zz-batch", map[string]any{"client_name": "Nightly batch"}); status != http.StatusOK || body["client_name"] != "Nightly batch" || body["scope"] != "api:read" {
			t.Fatalf("update: %d %v", status, body)
		}
		if status, body := call("PATCH", "/clients/zz-batch", map[string]any{"client_id": "other"}); status != http.StatusBadRequest || body["field"] != "client_id" {
			t.Fatalf("change id: %d %v", status, body)
		}
		if status, body := call("PATCH", "/clients/zz-batch", map[string]any{"grant_types": []string{"implicit"}}); status != http.StatusBadRequest || body["field"] != "grant_types" {
			t.Fatalf("invalid update: %d %v", status, body)
		}
		if _, body := call("GET", "/clients/zz-batch", nil); body["client_name"] != "Nightly batch" || body["client_secret"] != nil {
			t.Fatalf("get after update: %v", body)
		}

		oldSecret := app["client_secret"].(string)
		token := func(secret string) error {
			_, err := (&clientcredentials.Config{ClientID: "zz-batch", ClientSecret: secret, TokenURL: e.issuer + "/token", Scopes: []string{"api:read"}}).Token(ctx)
			return err
		}
		if err := token(oldSecret); err != nil {
			t.Fatal(err)
		}
		status, rotated := call("POST", "/clients/zz-batch/secret", nil)
		if status != http.StatusOK || rotated["client_secret"] == oldSecret {
			t.Fatalf("rotate: %d %v", status, rotated)
		}
		if err := token(rotated["client_secret"].(string)); err != nil {
			t.Fatalf("new secret: %v", err)
		}
		if err := token(oldSecret); err == nil {
			t.Fatal("the old secret still works after rotation")
		}
		if status, _ := call("POST", "/clients/"+publicID+"/secret", nil); status != http.StatusBadRequest {
			t.Fatalf("rotate a public client's secret: %d", status)
		}

		if status, _ := call("DELETE", "/clients/zz-batch", nil); status != http.StatusNoContent {
			t.Fatalf("delete: %d", status)
		}
		if status, body := call("GET", "/clients/zz-batch", nil); status != http.StatusNotFound || body["error"] != "not_found" {
			t.Fatalf("get deleted: %d %v", status, body)
		}
		if err := token(rotated["client_secret"].(string)); err == nil {
			t.Fatal("a deleted client still gets tokens")
		}
		if status, _ := call("DELETE", "/clients/zz-batch", nil); status != http.StatusNotFound {
			t.Fatalf("delete twice: %d", status)
		}
	})
}

// TestAdminAPIKeys: rotation through the API publishes the next key first.
func TestAdminAPIKeys(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		status, before, _ := e.adminCall(adminToken, "GET", "/keys", nil)
		if status != http.StatusOK || len(before["items"].([]any)) != 2 {
			t.Fatalf("keys: %d %v", status, before)
		}
		status, after, _ := e.adminCall(adminToken, "POST", "/keys/rotate", nil)
		if status != http.StatusOK || len(after["items"].([]any)) != 3 {
			t.Fatalf("rotate: %d %v", status, after)
		}
		if strings.Contains(strings.ToLower(mustJSON(t, after)), "private") {
			t.Fatal("key listing mentions private material")
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAdminOpenAPIMatchesRoutes: every admin route is described, every
// described operation exists, and the description is served.
func TestAdminOpenAPIMatchesRoutes(t *testing.T) {
	r := mux.NewRouter()
	(&admin.Handler{}).Mount(r)
	checkOpenAPI(t, r, "", admin.Prefix, docs.AdminOpenAPI, "/admin/v1/openapi.json")
}

// checkOpenAPI compares the routes of r whose path starts with only (each
// without prefix) with the operations the OpenAPI description spec names,
// both ways, and checks that every backend serves spec at served.
func checkOpenAPI(t *testing.T, r *mux.Router, only, prefix string, spec []byte, served string) {
	t.Helper()
	var routes []string
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil || !strings.HasPrefix(path, only) {
			return nil
		}
		methods, err := route.GetMethods()
		if err != nil {
			return nil // a subrouter's prefix route
		}
		for _, m := range methods {
			routes = append(routes, m+" "+strings.TrimPrefix(path, prefix))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	var described []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				described = append(described, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(routes)
	slices.Sort(described)
	if len(routes) == 0 || !slices.Equal(routes, described) {
		t.Fatalf("routes and description differ:\nroutes:    %v\ndescribed: %v", routes, described)
	}
	backends(t, func(t *testing.T, e *env) {
		resp, err := http.Get(e.issuer + served)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, spec) {
			t.Fatalf("served description: %d", resp.StatusCode)
		}
	})
}
