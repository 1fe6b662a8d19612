package oauth

import (
	"net/http"

	"github.com/tollgate/tollgate/mfa"
	"github.com/tollgate/tollgate/server/httpjson"
)

// discovery is the OpenID Provider metadata (OIDC Discovery §3, RFC 8414).
func (h *Handler) discovery(w http.ResponseWriter, r *http.Request) {
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
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpjson.Write(w, http.StatusOK, meta)
}

// jwks publishes the public signing keys: next, active, and retired keys
// whose tokens may still be live. Never private material.
func (h *Handler) jwks(w http.ResponseWriter, r *http.Request) {
	set, err := h.Keys.JWKS(r.Context())
	if err != nil {
		h.writeUnavailableJSON(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpjson.Write(w, http.StatusOK, set)
}

func (h *Handler) promptValues() []string {
	if h.SignupEnabled {
		return []string{"none", "login", "consent", "create"}
	}
	return []string{"none", "login", "consent"}
}
