package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/clientreg"
)

type clientList struct {
	Items         []clientreg.View `json:"items"`
	NextPageToken string           `json:"next_page_token"`
}

type clientsData struct {
	Items []clientreg.View
	Query string
	Next  string
}

func (h *Handler) listClients(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := strings.TrimSpace(q.Get("q"))
	params := url.Values{"page_size": {"50"}}
	if query != "" {
		params.Set("name", query)
	}
	if t := q.Get("page_token"); t != "" {
		params.Set("page_token", t)
	}
	var list clientList
	if err := h.call(r, http.MethodGet, "/clients", params, nil, &list); err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "clients", "clients", page{Data: clientsData{Items: list.Items, Query: query, Next: list.NextPageToken}})
}

// clientForm is the new-client form as typed, to show it again with an
// error.
type clientForm struct {
	ClientName, RedirectURIs, PostLogoutRedirectURIs, WebOrigins, Scope string
	Public, SkipConsent                                                 bool
	Grant                                                               map[string]bool
	Field                                                               string
}

func (h *Handler) newClient(w http.ResponseWriter, r *http.Request) {
	form := clientForm{Scope: clientreg.DefaultScope, Grant: map[string]bool{}}
	for _, g := range clientreg.DefaultGrantTypes {
		form.Grant[g] = true
	}
	h.render(w, r, http.StatusOK, "client_new", "clients", page{Data: form})
}

// createClient registers the client through the admin API and shows it,
// with its secret, once.
func (h *Handler) createClient(w http.ResponseWriter, r *http.Request) {
	form := clientForm{
		ClientName: r.PostFormValue("client_name"), RedirectURIs: r.PostFormValue("redirect_uris"),
		PostLogoutRedirectURIs: r.PostFormValue("post_logout_redirect_uris"), WebOrigins: r.PostFormValue("web_origins"),
		Scope: r.PostFormValue("scope"), Public: r.PostFormValue("type") == "public",
		SkipConsent: r.PostFormValue("skip_consent") != "", Grant: map[string]bool{},
	}
	reg := clientreg.Registration{
		ClientName: form.ClientName, RedirectURIs: lines(form.RedirectURIs),
		PostLogoutRedirectURIs: lines(form.PostLogoutRedirectURIs), WebOrigins: lines(form.WebOrigins),
		Scope: strings.Join(strings.Fields(form.Scope), " "), SkipConsent: form.SkipConsent,
		TokenEndpointAuthMethod: clientreg.AuthSecretBasic,
	}
	if form.Public {
		reg.TokenEndpointAuthMethod = clientreg.AuthNone
	}
	for _, g := range r.PostForm["grant_types"] {
		form.Grant[g] = true
		reg.GrantTypes = append(reg.GrantTypes, g)
	}
	if len(reg.GrantTypes) == 0 {
		form.Field = "grant_types"
		h.render(w, r, http.StatusBadRequest, "client_new", "clients", page{Data: form, Error: "Choose at least one grant type."})
		return
	}
	var created clientreg.View
	err := h.call(r, http.MethodPost, "/clients", nil, reg, &created)
	var ae *apiError
	if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusConflict) {
		form.Field = ae.Field
		h.render(w, r, ae.Status, "client_new", "clients", page{Data: form, Error: ae.Description})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusCreated, "client", "clients", page{
		Data:   clientData{Client: created, Secret: created.ClientSecret},
		Notice: "The client is registered.",
	})
}

type clientData struct {
	Client clientreg.View
	Secret string // only right after a create or a rotation
}

func (h *Handler) showClient(w http.ResponseWriter, r *http.Request) {
	var c clientreg.View
	if err := h.call(r, http.MethodGet, "/clients/"+url.PathEscape(mux.Vars(r)["id"]), nil, nil, &c); err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "client", "clients", page{Data: clientData{Client: c}})
}

func (h *Handler) rotateSecret(w http.ResponseWriter, r *http.Request) {
	var c clientreg.View
	if err := h.call(r, http.MethodPost, "/clients/"+url.PathEscape(mux.Vars(r)["id"])+"/secret", nil, nil, &c); err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "client", "clients", page{
		Data:   clientData{Client: c, Secret: c.ClientSecret},
		Notice: "A new secret was issued; the previous one no longer works.",
	})
}

func (h *Handler) deleteClient(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if r.PostFormValue("confirm") != "yes" {
		h.message(w, r, http.StatusBadRequest, "Not deleted", "Tick the confirmation box to delete the client.")
		return
	}
	if err := h.call(r, http.MethodDelete, "/clients/"+url.PathEscape(id), nil, nil, nil); err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/clients", "client_deleted")
}

// lines splits a textarea into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
