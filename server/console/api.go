package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/tollgate/tollgate/server/admin"
)

// apiError is an admin API error answer.
type apiError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
	Field       string `json:"field"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("admin API: %d %s: %s", e.Status, e.Code, e.Description)
}

// call makes an admin API request in process, on behalf of the signed-in
// admin, and decodes a successful answer into out (when not nil). An error
// answer is returned as an *apiError.
func (h *Handler) call(r *http.Request, method, path string, query url.Values, body, out any) error {
	var payload io.Reader = http.NoBody
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("admin API: encode %s %s: %w", method, path, err)
		}
		payload = bytes.NewReader(raw)
	}
	target := admin.Prefix + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	ctx := admin.OnBehalfOf(r.Context(), signedIn(r.Context()).ID)
	req, err := http.NewRequestWithContext(ctx, method, target, payload)
	if err != nil {
		return fmt.Errorf("admin API: %s %s: %w", method, path, err)
	}
	req.RemoteAddr = r.RemoteAddr
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}}
	h.API.ServeHTTP(rec, req)
	if method != http.MethodGet {
		h.Logger.InfoContext(r.Context(), "admin console: action", "admin_id", signedIn(r.Context()).ID,
			"method", method, "path", target, "status", rec.status)
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 400 {
		ae := &apiError{Status: rec.status}
		if err := json.Unmarshal(rec.body.Bytes(), ae); err != nil || ae.Description == "" {
			ae.Description = http.StatusText(rec.status)
		}
		return ae
	}
	if out != nil {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return fmt.Errorf("admin API: decode %s %s: %w", method, path, err)
		}
	}
	return nil
}

// recorder is the http.ResponseWriter of an in-process API call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
