package login

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/mfa"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/authflow"
	"github.com/tollgate/tollgate/server/clientip"
	"github.com/tollgate/tollgate/server/metrics"
	"github.com/tollgate/tollgate/server/session"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
	"github.com/tollgate/tollgate/throttle"
)

// A second-factor challenge: the password (or an earlier session) proved
// who the user is; the browser holds a cookie naming the challenge, and no
// session exists until the code is given.
const (
	KindMFAChallenge     storage.TokenKind = "mfa_challenge"
	mfaCookie                              = "tollgate_mfa"
	mfaChallengeLifetime                   = 10 * time.Minute
)

type mfaChallenge struct {
	// AMR is how the user authenticated so far (["pwd"]).
	AMR []string `json:"amr"`
	// Next is the page of Tollgate's own to return to when no application
	// is waiting (see LocalPath).
	Next string `json:"next,omitempty"`
}

// Codes are throttled per account and per address like passwords, on
// counters of their own.
func mfaCounters(r *http.Request, userID string) []throttle.Counter {
	return []throttle.Counter{
		{Key: "mfa:account:" + userID, Free: freeAccountFailures},
		{Key: "mfa:address:" + clientip.Of(r), Free: freeAddressFailures},
	}
}

func keysOf(counters []throttle.Counter) []string {
	keys := make([]string, len(counters))
	for i, c := range counters {
		keys[i] = c.Key
	}
	return keys
}

// needsSecondFactor reports whether the user must give a code after the
// password.
func (h *Handler) needsSecondFactor(ctx context.Context, userID string) (bool, error) {
	if h.MFA == nil {
		return false, nil
	}
	return h.MFA.Status(ctx, userID)
}

// challengeSecondFactor sends the browser, whose user gave the password, to
// the code page.
func (h *Handler) challengeSecondFactor(w http.ResponseWriter, r *http.Request, userID, handle string, amr []string, next string) {
	if err := h.newChallenge(w, r, userID, mfaChallenge{AMR: amr, Next: next}); err != nil {
		h.unavailable(w, r, err)
		return
	}
	target := h.Issuer + "/login/mfa"
	if handle != "" {
		target += "?request=" + url.QueryEscape(handle)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (h *Handler) newChallenge(w http.ResponseWriter, r *http.Request, userID string, c mfaChallenge) error {
	value, hash, err := session.NewToken()
	if err != nil {
		return err
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	expires := now.Add(mfaChallengeLifetime)
	err = h.Store.CreateToken(r.Context(), storage.Token{
		Kind: KindMFAChallenge, Signature: hash, Subject: userID, Active: true,
		ExpiresAt: expires, Data: data, CreatedAt: now,
	})
	if err != nil {
		return err
	}
	h.Sessions.SetCookie(w, mfaCookie, value, expires)
	return nil
}

// challenge loads the browser's challenge: the user and the methods so
// far. ok is false when there is none or it expired.
func (h *Handler) challenge(r *http.Request) (storage.Token, mfaChallenge, bool, error) {
	value := h.Sessions.Cookie(r, mfaCookie)
	if value == "" {
		return storage.Token{}, mfaChallenge{}, false, nil
	}
	t, err := h.Store.GetToken(r.Context(), KindMFAChallenge, session.HashToken(value))
	if errors.Is(err, storage.ErrNotFound) || (err == nil && (!t.Active || !t.ExpiresAt.After(time.Now()))) {
		return storage.Token{}, mfaChallenge{}, false, nil
	}
	if err != nil {
		return storage.Token{}, mfaChallenge{}, false, err
	}
	var c mfaChallenge
	if err := json.Unmarshal(t.Data, &c); err != nil {
		return storage.Token{}, mfaChallenge{}, false, nil
	}
	return t, c, true, nil
}

// showSecondFactor asks for the code. A browser that comes without a
// challenge but with a session, sent here by the authorization endpoint to
// step up, gets a challenge for the session's user.
func (h *Handler) showSecondFactor(w http.ResponseWriter, r *http.Request) {
	handle := r.URL.Query().Get("request")
	var p authflow.Pending
	if handle != "" {
		var ok bool
		if p, ok = h.pending(w, r, handle); !ok {
			return
		}
	}
	_, _, ok, err := h.challenge(r)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if !ok {
		sess, err := h.Sessions.Load(r)
		switch {
		case err == nil && handle != "" && sess.ID == p.SessionID:
			if err := h.newChallenge(w, r, sess.UserID, mfaChallenge{AMR: sess.AMR}); err != nil {
				h.unavailable(w, r, err)
				return
			}
		case err == nil || errors.Is(err, storage.ErrNotFound):
			target := h.Issuer + "/login"
			if handle != "" {
				target += "?request=" + url.QueryEscape(handle)
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		default:
			h.unavailable(w, r, err)
			return
		}
	}
	h.renderSecondFactor(w, r, http.StatusOK, templates.MFALoginPage{Request: handle, ClientName: h.clientName(r, p.ClientID)})
}

func (h *Handler) renderSecondFactor(w http.ResponseWriter, r *http.Request, status int, data templates.MFALoginPage) {
	h.renderForm(w, r, status, "mfa_login", func(csrf string) any {
		data.CSRFToken = csrf
		return data
	})
}

// submitSecondFactor checks the code and, when it is right, starts the
// session and resumes the pending request.
func (h *Handler) submitSecondFactor(w http.ResponseWriter, r *http.Request) {
	if !h.Sessions.CheckCSRF(r) {
		h.errorPage(w, http.StatusForbidden, "invalid_request", "The form has expired. Go back and try again.")
		return
	}
	ctx := r.Context()
	handle := r.PostFormValue("request")
	var p authflow.Pending
	if handle != "" {
		var ok bool
		if p, ok = h.pending(w, r, handle); !ok {
			return
		}
	}
	page := templates.MFALoginPage{Request: handle, ClientName: h.clientName(r, p.ClientID)}
	t, c, ok, err := h.challenge(r)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if !ok {
		h.errorPage(w, http.StatusBadRequest, "request_expired", "This sign-in has expired. Go back and sign in again.")
		return
	}
	amr, ok := h.checkCode(w, r, t.Subject, r.PostFormValue("code"), func(status int, throttled bool) {
		page.Failed, page.Throttled = !throttled, throttled
		h.renderSecondFactor(w, r, status, page)
	})
	if !ok {
		return
	}
	if err := h.Store.DeleteToken(ctx, KindMFAChallenge, t.Signature); err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.unavailable(w, r, err)
		return
	}
	h.Sessions.ClearCookie(w, mfaCookie)
	// The account may have been disabled or deleted since the password.
	user, err := h.Store.GetUser(ctx, t.Subject)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && user.Disabled) {
		h.errorPage(w, http.StatusBadRequest, "request_expired", "This sign-in has expired. Go back and sign in again.")
		return
	}
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.finishSignIn(w, r, user, withFactor(c.AMR, amr), handle, p, c.Next)
}

// checkCode verifies a second-factor code under the code throttle, and
// answers a refusal through refuse (status, and whether it is the
// throttle's). It returns the amr value of the factor used.
func (h *Handler) checkCode(w http.ResponseWriter, r *http.Request, userID, code string, refuse func(status int, throttled bool)) (string, bool) {
	ctx := r.Context()
	counters := mfaCounters(r, userID)
	wait, err := h.waitFor(ctx, counters...)
	if err != nil {
		h.unavailable(w, r, err)
		return "", false
	}
	if wait > 0 {
		// The code is not even checked while the wait lasts.
		h.Logger.InfoContext(ctx, "second factor throttled", "user_id", userID, "wait", wait.Round(time.Second))
		h.Metrics.SignIn("mfa", "throttled")
		h.Audit.Record(ctx, r, audit.Event{Type: audit.SignInFailed, UserID: userID, Reason: "throttled",
			Details: map[string]string{"method": "mfa"}})
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		refuse(http.StatusTooManyRequests, true)
		return "", false
	}
	amr, err := h.MFA.Verify(ctx, userID, code)
	if errors.Is(err, mfa.ErrWrongCode) {
		if err := h.countFailure(ctx, keysOf(counters)...); err != nil {
			h.unavailable(w, r, err)
			return "", false
		}
		h.Logger.InfoContext(ctx, "second factor failed", "user_id", userID)
		h.Metrics.SignIn("mfa", metrics.SignInFailure)
		h.Audit.Record(ctx, r, audit.Event{Type: audit.SignInFailed, UserID: userID, Reason: "wrong_code",
			Details: map[string]string{"method": "mfa"}})
		refuse(http.StatusUnauthorized, false)
		return "", false
	}
	if err == nil {
		err = h.Store.ResetAttempts(ctx, counters[0].Key)
	}
	if err != nil {
		h.unavailable(w, r, err)
		return "", false
	}
	h.Metrics.SignIn("mfa", metrics.SignInSuccess)
	if amr == mfa.AMRRecovery {
		h.Audit.Record(ctx, r, audit.Event{Type: audit.MFARecoveryCodeUsed, UserID: userID})
	}
	return amr, true
}

// withFactor adds a second factor's amr value to the methods so far.
func withFactor(amr []string, factor string) []string {
	out := slices.DeleteFunc(slices.Clone(amr), func(m string) bool { return m == mfa.AMRTOTP || m == mfa.AMRRecovery })
	if len(out) == 0 {
		out = []string{"pwd"}
	}
	return append(out, factor)
}

// finishSignIn starts the session of a user who passed every step, and
// resumes the pending request, or goes to next, or confirms the sign-in.
func (h *Handler) finishSignIn(w http.ResponseWriter, r *http.Request, user storage.User, amr []string, handle string, p authflow.Pending, next string) {
	ctx := r.Context()
	sess, err := h.Sessions.Start(w, r, user.ID, amr)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Logger.InfoContext(ctx, "signed in", "user_id", user.ID, "client_id", p.ClientID, "amr", amr)
	h.Audit.Record(ctx, r, audit.Event{Type: audit.SignInSucceeded, UserID: user.ID, ClientID: p.ClientID,
		Details: map[string]string{"method": "password", "amr": strings.Join(amr, " ")}})
	if handle == "" {
		if next := LocalPath(next); next != "" {
			http.Redirect(w, r, h.Issuer+next, http.StatusSeeOther)
			return
		}
		h.Pages.Render(w, http.StatusOK, "signed_in", templates.SignedInPage{Email: user.Email})
		return
	}
	p.LoggedIn, p.SessionID = true, sess.ID
	if err := h.Pending.Update(ctx, handle, p); err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.resume(w, r, handle)
}
