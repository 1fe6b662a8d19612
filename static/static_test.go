package static_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/static"
)

func get(path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	static.Handler().ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	return w
}

func TestFingerprintedAssetsAreImmutable(t *testing.T) {
	p := static.Path("style.css")
	if !strings.HasPrefix(p, "/static/style.css?v=") || len(p) != len("/static/style.css?v=")+10 {
		t.Fatalf("Path = %q", p)
	}
	w := get("/tenant" + p)
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") {
		t.Fatalf("style.css: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if got := w.Header().Get("Cache-Control"); !strings.Contains(got, "immutable") {
		t.Errorf("fingerprinted Cache-Control = %q", got)
	}
	// An old or missing fingerprint must be revalidated, not cached for a year.
	if got := get("/static/style.css?v=0000000000").Header().Get("Cache-Control"); got != "no-cache" {
		t.Errorf("stale fingerprint Cache-Control = %q", got)
	}
}

func TestUnknownAssetsAre404(t *testing.T) {
	for _, p := range []string{"/static/nope.css", "/static/../static.go", "/static/", "/elsewhere"} {
		if w := get(p); w.Code != 404 {
			t.Errorf("%s: %d", p, w.Code)
		}
	}
}
