package oauth

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/mfa"
)

// encodedDocs holds the discovery document and the JWKS, encoded once: the
// first never changes while the process runs, the second only when the
// keyring loads a different set of keys.
type encodedDocs struct {
	discoveryOnce sync.Once
	discovery     []byte

	mu       sync.Mutex
	jwksKeys []keyring.Key // the keys jwks was encoded from
	jwks     []byte
}

// discovery is the OpenID Provider metadata (OIDC Discovery §3, RFC 8414).
func (h *Handler) discovery(w http.ResponseWriter, _ *http.Request) {
	h.docs.discoveryOnce.Do(func() { h.docs.discovery = encodeJSON(h.discoveryMetadata()) })
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeEncoded(w, h.docs.discovery)
}

func (h *Handler) discoveryMetadata() map[string]any {
	iss := h.Issuer
	meta := map[string]any{
		"issuer":                                        iss,
		"authorization_endpoint":                        iss + "/authorize",
		"token_endpoint":                                iss + "/token",
		"userinfo_endpoint":                             iss + "/userinfo",
		"jwks_uri":                                      iss + "/.well-known/jwks.json",
		"revocation_endpoint":                           iss + "/revoke",
		"introspection_endpoint":                        iss + "/introspect",
		"end_session_endpoint":                          iss + "/logout",
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         []string{"authorization_code", "refresh_token", "client_credentials"},
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         []string{"RS256"},
		"code_challenge_methods_supported":              []string{"S256"},
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                              []string{"openid", "profile", "email", "offline_access"},
		"claims_supported": []string{
			"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr", "acr",
			"name", "picture", "updated_at", "email", "email_verified",
		},
		"prompt_values_supported":                        h.promptValues(),
		"acr_values_supported":                           []string{mfa.ACR},
		"authorization_response_iss_parameter_supported": true,
		"claims_parameter_supported":                     false,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"frontchannel_logout_supported":                  false,
		"backchannel_logout_supported":                   false,
	}
	if h.RegistrationEndpoint != "" {
		meta["registration_endpoint"] = h.RegistrationEndpoint
	}
	return meta
}

// jwks publishes the public signing keys: next, active, and retired keys
// whose tokens may still be live. Never private material.
func (h *Handler) jwks(w http.ResponseWriter, r *http.Request) {
	keys, err := h.Keys.Keys(r.Context())
	if err != nil {
		h.writeUnavailableJSON(w, r, err)
		return
	}
	h.docs.mu.Lock()
	if !sameKeys(h.docs.jwksKeys, keys) {
		set, err := h.Keys.JWKS(r.Context())
		if err != nil {
			h.docs.mu.Unlock()
			h.writeUnavailableJSON(w, r, err)
			return
		}
		h.docs.jwks, h.docs.jwksKeys = encodeJSON(set), keys
	}
	body := h.docs.jwks
	h.docs.mu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeEncoded(w, body)
}

// sameKeys reports whether two key sets publish the same keys in the same
// states.
func sameKeys(a, b []keyring.Key) bool {
	if a == nil || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].State != b[i].State {
			return false
		}
	}
	return true
}

// encodeJSON encodes v as writeJSON would.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	return b.Bytes()
}

func writeEncoded(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (h *Handler) promptValues() []string {
	if h.SignupEnabled {
		return []string{"none", "login", "consent", "create"}
	}
	return []string{"none", "login", "consent"}
}
