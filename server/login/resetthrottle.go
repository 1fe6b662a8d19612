package login

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/server/clientip"
	"github.com/tollgate/tollgate/templates"
	"github.com/tollgate/tollgate/throttle"
)

// Reset requests are throttled per address typed (so nobody floods a
// mailbox) and per client address (so nobody probes many addresses, or
// fills the token table): each request counts, the first few in an hour
// are free, then the shared back-off applies. Whether the address has an
// account plays no part, so a throttled answer reveals nothing either.
const (
	freeResetsPerEmail   = 3
	freeResetsPerAddress = 20
)

func resetEmailKey(email string) string      { return "reset:email:" + email }
func resetAddressKey(r *http.Request) string { return "reset:address:" + clientip.Of(r) }

// resetWait reports how long a reset request for email from r must wait;
// when it need not, the request is counted.
func (h *Handler) resetWait(ctx context.Context, r *http.Request, email string) (time.Duration, error) {
	wait, err := h.waitFor(ctx,
		throttle.Counter{Key: resetEmailKey(email), Free: freeResetsPerEmail},
		throttle.Counter{Key: resetAddressKey(r), Free: freeResetsPerAddress})
	if err != nil || wait > 0 {
		return wait, err
	}
	return 0, h.countFailure(ctx, resetEmailKey(email), resetAddressKey(r))
}

// resetThrottled answers a throttled reset request: one page, the same
// whatever address was typed, and no mail.
func (h *Handler) resetThrottled(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	h.Pages.Render(w, http.StatusTooManyRequests, "error", templates.ErrorPage{
		Code:        "too_many_requests",
		Description: "Too many password reset requests. If an account exists, a link is already on its way: check your inbox (and spam folder), or try again in a few minutes.",
	})
}

// mailTimeout bounds a mail sent after the answer.
const mailTimeout = time.Minute

// sendLater sends a mail after the request is answered, so that the
// answer takes the same time whether or not a mail goes out (an SMTP
// round trip would tell an existing account from an unknown one). A
// failure is logged: the page has already said to check the inbox.
func (h *Handler) sendLater(ctx context.Context, message string, data templates.MailData) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mailTimeout)
	h.mailing.Add(1)
	go func() {
		defer h.mailing.Done()
		defer cancel()
		if err := h.sendMail(ctx, message, data); err != nil {
			h.Logger.ErrorContext(ctx, "mail not sent", "message", message, "err", err)
		}
	}()
}

// WaitForMail waits until the mail sent after answers has gone, or ctx
// ends: at shutdown, so that a "check your email" page keeps its word.
func (h *Handler) WaitForMail(ctx context.Context) error {
	done := make(chan struct{})
	go func() { h.mailing.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mail still being sent at shutdown: %w", ctx.Err())
	}
}
