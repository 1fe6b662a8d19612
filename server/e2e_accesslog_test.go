package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAccessLog: one line per request with the method, the route template
// (never the path's values or the query string), the status, the duration
// and the request ID; probes stay out of the info log.
func TestAccessLog(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		const secret = "s3cr3t-query-value-0123456789"
		call := func(id, method, path, token string) {
			req, _ := http.NewRequest(method, e.issuer+path, nil)
			req.Header.Set("X-Request-ID", id)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := noRedirects.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		call("req-authorize", "GET", "/authorize?client_id=webapp&state="+secret, "")
		call("req-missing", "GET", "/no/such/page?token="+secret, "")
		call("req-admin", "GET", "/admin/v1/clients/"+confidentialID, adminToken)
		call("req-health", "GET", "/healthz", "")

		lines := map[string][]map[string]any{}
		for _, rec := range accessLines(t, e) {
			id, _ := rec["request_id"].(string)
			lines[id] = append(lines[id], rec)
		}
		for id, want := range map[string]struct {
			route  string
			status float64
		}{
			"req-authorize": {"/authorize", 0},
			"req-missing":   {"unmatched", http.StatusNotFound},
			"req-admin":     {"/admin/v1/clients/{id}", http.StatusOK},
		} {
			if len(lines[id]) != 1 {
				t.Fatalf("%s: %d access log lines, want 1", id, len(lines[id]))
			}
			rec := lines[id][0]
			if rec["method"] != "GET" || rec["route"] != want.route || rec["level"] != "INFO" {
				t.Errorf("%s: %v", id, rec)
			}
			if status, _ := rec["status"].(float64); status < 200 || (want.status != 0 && status != want.status) {
				t.Errorf("%s: status %v, want %v", id, rec["status"], want.status)
			}
			if d, ok := rec["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("%s: duration %v", id, rec["duration_ms"])
			}
		}
		if len(lines["req-health"]) != 0 {
			t.Errorf("a health probe was logged at info: %v", lines["req-health"])
		}
		if logs := e.logs.String(); strings.Contains(logs, secret) || strings.Contains(logs, "/clients/"+confidentialID) {
			t.Errorf("the logs contain a query string or a path's values:\n%s", logs)
		}
	})
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
