package oauth

import (
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/tollgate/tollgate/server/audit"
)

// grantEvent describes a token request for the audit log: its client, its
// user (none for client_credentials), grant type and, when it was refused,
// why. ar may be nil or half-filled when the request failed early.
func grantEvent(r *http.Request, typ, reason string, ar fosite.AccessRequester) audit.Event {
	e := audit.Event{Type: typ, ClientID: requestClient(r), Reason: reason, Details: map[string]string{}}
	if ar == nil {
		return e
	}
	if c := ar.GetClient(); c != nil && c.GetID() != "" {
		e.ClientID = c.GetID()
	}
	if gt := ar.GetGrantTypes(); len(gt) > 0 {
		e.Details["grant_type"] = strings.Join(gt, " ")
	}
	if scopes := ar.GetGrantedScopes(); len(scopes) > 0 {
		e.Details["scope"] = strings.Join(scopes, " ")
	}
	if s := ar.GetSession(); s != nil && s.GetSubject() != e.ClientID {
		e.UserID = s.GetSubject()
	}
	return e
}
