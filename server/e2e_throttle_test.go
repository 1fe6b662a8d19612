package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPasswordThrottling: after five failures an account waits before its
// next attempt is even checked, the right password included; an unknown
// email is answered the same way; parallel guesses all count; the wait
// ends by itself and then the right password works.
func TestPasswordThrottling(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		attempt := func(email, password string) page {
			b := newBrowser(t)
			return b.signIn(b.get(e.issuer+"/login"), email, password)
		}
		for _, email := range []string{testEmail, "nobody@example.com"} {
			for i := range 5 {
				if p := attempt(email, "wrong guess "+strconv.Itoa(i)); p.status != http.StatusUnauthorized {
					t.Fatalf("%s failure %d: %d", email, i, p.status)
				}
			}
		}
		known, unknown := attempt(testEmail, testPassword), attempt("nobody@example.com", "anything at all")
		if known.status != http.StatusTooManyRequests || unknown.status != known.status {
			t.Fatalf("after 5 failures: %d for the account, %d for an unknown email", known.status, unknown.status)
		}
		if !strings.Contains(known.body, "Too many attempts") {
			t.Fatal("the throttled page does not say why")
		}

		// The wait after the fifth failure is a second; then the right
		// password is checked again.
		time.Sleep(1100 * time.Millisecond)
		if p := attempt(testEmail, testPassword); p.status != http.StatusOK {
			t.Fatalf("after the back-off, the right password: %d", p.status)
		}

		// Parallel guesses against another account are counted (the
		// conformance suite proves the count atomic); those that arrive
		// after the fifth failure are refused unchecked.
		const target = "parallel@example.com"
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() { attempt(target, "parallel guess "+strconv.Itoa(i)) })
		}
		wg.Wait()
		a, err := e.store.Attempts(t.Context(), "password:account:"+target)
		if err != nil || a[0].Failures < 5 {
			t.Fatalf("8 parallel guesses counted as %+v (%v)", a, err)
		}
		if p := attempt(target, "one more"); p.status != http.StatusTooManyRequests {
			t.Fatalf("after 8 parallel failures: %d", p.status)
		}
	})
}
