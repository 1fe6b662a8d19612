package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/server/admin"
)

type userList struct {
	Items         []admin.UserView `json:"items"`
	NextPageToken string           `json:"next_page_token"`
}

type usersData struct {
	Items  []admin.UserView
	Query  string
	Status string
	Next   string
}

// listUsers pages through users, or searches them: the query matches the
// email address or the name.
func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := usersData{Query: strings.TrimSpace(q.Get("q")), Status: q.Get("status")}
	if data.Status != "active" && data.Status != "disabled" {
		data.Status = ""
	}
	params := url.Values{}
	if data.Status != "" {
		params.Set("status", data.Status)
	}
	if data.Query == "" {
		params.Set("page_size", "50")
		if t := q.Get("page_token"); t != "" {
			params.Set("page_token", t)
		}
		var list userList
		if err := h.call(r, http.MethodGet, "/users", params, nil, &list); err != nil {
			h.fail(w, r, err)
			return
		}
		data.Items, data.Next = list.Items, list.NextPageToken
		h.render(w, r, http.StatusOK, "users", "users", page{Data: data})
		return
	}
	// A search shows the first 500 matches by email and by name.
	params.Set("page_size", "500")
	seen := map[string]bool{}
	for _, field := range []string{"email", "name"} {
		p := url.Values{}
		for k, v := range params {
			p[k] = v
		}
		p.Set(field, data.Query)
		var list userList
		if err := h.call(r, http.MethodGet, "/users", p, nil, &list); err != nil {
			h.fail(w, r, err)
			return
		}
		for _, u := range list.Items {
			if !seen[u.ID] {
				seen[u.ID] = true
				data.Items = append(data.Items, u)
			}
		}
	}
	slices.SortFunc(data.Items, func(a, b admin.UserView) int { return strings.Compare(a.Email, b.Email) })
	h.render(w, r, http.StatusOK, "users", "users", page{Data: data})
}

type userData struct {
	User    admin.UserView
	Self    bool // the signed-in admin's own account
	IsAdmin bool
	// HasMFA: the user has a confirmed second factor.
	HasMFA bool
	// CanMail: the server can mail a password reset link.
	CanMail  bool
	Sessions []sessionRow
	Consents []consentRow
}

func (h *Handler) showUser(w http.ResponseWriter, r *http.Request) {
	var u admin.UserView
	if err := h.call(r, http.MethodGet, "/users/"+url.PathEscape(mux.Vars(r)["id"]), nil, nil, &u); err != nil {
		h.fail(w, r, err)
		return
	}
	sessions, consents, err := h.userActivity(r, u.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "user", "users", page{Data: userData{
		User: u, Self: u.ID == signedIn(r.Context()).ID, IsAdmin: admin.HasRole(u.Roles, admin.RoleAdmin),
		HasMFA: u.MFAEnabled != nil && *u.MFAEnabled, CanMail: h.MailEnabled,
		Sessions: sessions, Consents: consents,
	}})
}

// userAction disables, enables or signs out a user through the admin API.
// An admin cannot disable their own account from here.
func (h *Handler) userAction(action, notice string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := mux.Vars(r)["id"]
		if action == "disable" && id == signedIn(r.Context()).ID {
			h.message(w, r, http.StatusBadRequest, "Not disabled", "You cannot disable your own account; another admin must do it.")
			return
		}
		if err := h.call(r, http.MethodPost, "/users/"+url.PathEscape(id)+"/"+action, nil, nil, nil); err != nil {
			h.fail(w, r, err)
			return
		}
		h.redirect(w, r, "/users/"+url.PathEscape(id), notice)
	}
}

// setAdminRole gives or takes the admin role. Admins cannot take their own,
// so the console always keeps at least the admin using it.
func (h *Handler) setAdminRole(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	grant := r.PostFormValue("admin") == "yes"
	if !grant && id == signedIn(r.Context()).ID {
		h.message(w, r, http.StatusBadRequest, "Not changed", "You cannot remove your own admin role; another admin must do it.")
		return
	}
	roles, notice := []string{}, "admin_revoked"
	if grant {
		roles, notice = []string{admin.RoleAdmin}, "admin_granted"
	}
	if err := h.call(r, http.MethodPatch, "/users/"+url.PathEscape(id), nil, map[string]any{"roles": roles}, nil); err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/users/"+url.PathEscape(id), notice)
}
