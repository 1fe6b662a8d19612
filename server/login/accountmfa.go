package login

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/mfa"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/authflow"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

// mountMFA registers the second factor's pages: /login/mfa, the code after
// the password; /account/mfa, where the signed-in user sets up, renews or
// turns off the second factor.
func (h *Handler) mountMFA(r *mux.Router) {
	if h.MFA == nil {
		return
	}
	r.HandleFunc("/login/mfa", h.showSecondFactor).Methods(http.MethodGet)
	r.HandleFunc("/login/mfa", h.submitSecondFactor).Methods(http.MethodPost)
	r.HandleFunc("/account/mfa", h.showAccountMFA).Methods(http.MethodGet)
	r.HandleFunc("/account/mfa", h.confirmMFA).Methods(http.MethodPost)
	r.HandleFunc("/account/mfa/recovery-codes", h.regenerateRecoveryCodes).Methods(http.MethodPost)
	r.HandleFunc("/account/mfa/disable", h.disableMFA).Methods(http.MethodPost)
}

// accountSession loads the signed-in user, or answers that there is none.
func (h *Handler) accountSession(w http.ResponseWriter, r *http.Request) (storage.Session, storage.User, bool) {
	sess, err := h.Sessions.Load(r)
	var user storage.User
	if err == nil {
		user, err = h.Store.GetUser(r.Context(), sess.UserID)
		if err == nil && user.Disabled {
			err = storage.ErrNotFound
		}
	}
	if errors.Is(err, storage.ErrNotFound) {
		h.errorPage(w, http.StatusUnauthorized, "login_required", "Sign in first, then come back to this page.")
		return sess, user, false
	}
	if err != nil {
		h.unavailable(w, r, err)
		return sess, user, false
	}
	return sess, user, true
}

func (h *Handler) showAccountMFA(w http.ResponseWriter, r *http.Request) {
	sess, user, ok := h.accountSession(w, r)
	if !ok {
		return
	}
	page := templates.MFAAccountPage{Disabled: r.URL.Query().Get("disabled") == "1"}
	if handle := r.URL.Query().Get("request"); handle != "" {
		p, ok := h.pending(w, r, handle)
		if !ok {
			return
		}
		// Only the session the authorization endpoint sent here continues
		// the request after enrolling.
		if p.SessionID == sess.ID {
			page.Request, page.Required = handle, true
		}
	}
	h.renderAccountMFA(w, r, http.StatusOK, user, page)
}

// renderAccountMFA fills in the state of the user's second factor: the
// setup when there is none, else the recovery codes left.
func (h *Handler) renderAccountMFA(w http.ResponseWriter, r *http.Request, status int, user storage.User, page templates.MFAAccountPage) {
	ctx := r.Context()
	page.Email = user.Email
	enrollment, err := h.MFA.Begin(ctx, user.ID, user.Email)
	switch {
	case errors.Is(err, mfa.ErrAlreadyEnrolled):
		page.Enrolled = true
		if page.CodesLeft, err = h.MFA.RecoveryCodesLeft(ctx, user.ID); err != nil {
			h.unavailable(w, r, err)
			return
		}
	case err != nil:
		h.unavailable(w, r, err)
		return
	default:
		page.Secret, page.QRCode = enrollment.Secret, enrollment.QRCode
	}
	h.renderForm(w, r, status, "mfa_account", func(csrf string) any {
		page.CSRFToken = csrf
		return page
	})
}

// confirmMFA turns the pending enrollment on when the code is right, shows
// the recovery codes once, and upgrades the session: the code proves the
// second factor.
func (h *Handler) confirmMFA(w http.ResponseWriter, r *http.Request) {
	if !h.Sessions.CheckCSRF(r) {
		h.errorPage(w, http.StatusForbidden, "invalid_request", "The form has expired. Go back and try again.")
		return
	}
	sess, user, ok := h.accountSession(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	handle := r.PostFormValue("request")
	var p authflow.Pending
	if handle != "" {
		if p, ok = h.pending(w, r, handle); !ok {
			return
		}
		if p.SessionID != sess.ID {
			handle = ""
		}
	}
	page := templates.MFAAccountPage{Request: handle, Required: handle != ""}
	counters := mfaCounters(r, user.ID)
	wait, err := h.waitFor(ctx, counters...)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		page.Throttled = true
		h.Audit.Record(ctx, r, audit.Event{Type: audit.MFAFailed, UserID: user.ID, Reason: "throttled"})
		h.renderAccountMFA(w, r, http.StatusTooManyRequests, user, page)
		return
	}
	codes, err := h.MFA.Confirm(ctx, user.ID, r.PostFormValue("code"))
	if errors.Is(err, mfa.ErrWrongCode) {
		if err := h.countFailure(ctx, keysOf(counters)...); err != nil {
			h.unavailable(w, r, err)
			return
		}
		page.Failed = true
		h.Audit.Record(ctx, r, audit.Event{Type: audit.MFAFailed, UserID: user.ID, Reason: "wrong_code"})
		h.renderAccountMFA(w, r, http.StatusUnauthorized, user, page)
		return
	}
	if err == nil {
		err = h.Store.ResetAttempts(ctx, counters[0].Key)
	}
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	next, err := h.Sessions.Start(w, r, user.ID, withFactor(sess.AMR, mfa.AMRTOTP))
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Logger.InfoContext(ctx, "second factor enrolled", "user_id", user.ID)
	h.Audit.Record(ctx, r, audit.Event{Type: audit.MFAEnabled, UserID: user.ID, Details: map[string]string{"method": mfa.AMRTOTP}})
	cont := h.Issuer + "/account/mfa"
	if handle != "" {
		// The request resumes in the new session, as before.
		p.SessionID = next.ID
		if err := h.Pending.Update(ctx, handle, p); err != nil {
			h.unavailable(w, r, err)
			return
		}
		cont = h.Issuer + "/authorize/resume?request=" + url.QueryEscape(handle)
	}
	h.Pages.Render(w, http.StatusOK, "mfa_recovery_codes", templates.RecoveryCodesPage{Codes: codes, Continue: cont, Enrolled: true})
}

// checkPassword asks for the password again before a change to the second
// factor, under the password throttle. It answers a refusal itself, and
// records it as a failed event of type.
func (h *Handler) checkPassword(w http.ResponseWriter, r *http.Request, user storage.User, event string) bool {
	ctx := r.Context()
	page := templates.MFAAccountPage{}
	gate, err := h.lockedFor(ctx, r, user.Email)
	if err != nil {
		h.unavailable(w, r, err)
		return false
	}
	if wait := gate.Wait; wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		page.Throttled = true
		h.Audit.Record(ctx, r, audit.Event{Type: event, UserID: user.ID, Reason: "throttled"})
		h.renderAccountMFA(w, r, http.StatusTooManyRequests, user, page)
		return false
	}
	_, failure, err := h.authenticate(r, user.Email, r.PostFormValue("password"))
	if err != nil {
		h.unavailable(w, r, err)
		return false
	}
	if failure != "" {
		if err := h.recordFailure(ctx, r, user.Email); err != nil {
			h.unavailable(w, r, err)
			return false
		}
		page.PasswordFailed = true
		h.Audit.Record(ctx, r, audit.Event{Type: event, UserID: user.ID, Reason: "wrong_password"})
		h.renderAccountMFA(w, r, http.StatusUnauthorized, user, page)
		return false
	}
	if err := ResetPasswordFailures(ctx, h.Store, user.Email, gate); err != nil {
		h.unavailable(w, r, err)
		return false
	}
	return true
}

func (h *Handler) regenerateRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	if !h.Sessions.CheckCSRF(r) {
		h.errorPage(w, http.StatusForbidden, "invalid_request", "The form has expired. Go back and try again.")
		return
	}
	_, user, ok := h.accountSession(w, r)
	if !ok || !h.checkPassword(w, r, user, audit.MFARecoveryCodesRegenerated) {
		return
	}
	enrolled, err := h.MFA.Status(r.Context(), user.ID)
	if err == nil && !enrolled {
		http.Redirect(w, r, h.Issuer+"/account/mfa", http.StatusSeeOther)
		return
	}
	var codes []string
	if err == nil {
		codes, err = h.MFA.RegenerateRecoveryCodes(r.Context(), user.ID)
	}
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Logger.InfoContext(r.Context(), "recovery codes regenerated", "user_id", user.ID)
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.MFARecoveryCodesRegenerated, UserID: user.ID})
	h.Pages.Render(w, http.StatusOK, "mfa_recovery_codes", templates.RecoveryCodesPage{Codes: codes, Continue: h.Issuer + "/account/mfa"})
}

func (h *Handler) disableMFA(w http.ResponseWriter, r *http.Request) {
	if !h.Sessions.CheckCSRF(r) {
		h.errorPage(w, http.StatusForbidden, "invalid_request", "The form has expired. Go back and try again.")
		return
	}
	_, user, ok := h.accountSession(w, r)
	if !ok || !h.checkPassword(w, r, user, audit.MFADisabled) {
		return
	}
	if err := h.MFA.Remove(r.Context(), user.ID); err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Logger.InfoContext(r.Context(), "second factor removed", "user_id", user.ID)
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.MFADisabled, UserID: user.ID})
	http.Redirect(w, r, h.Issuer+"/account/mfa?disabled=1", http.StatusSeeOther)
}
