package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
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

// usersPageSize is how many users a page of the console shows.
const usersPageSize = 50

// listUsers pages through users, or through those the query matches by
// email address or by name, in ID order.
func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := usersData{Query: strings.TrimSpace(q.Get("q")), Status: q.Get("status")}
	if data.Status != "active" && data.Status != "disabled" {
		data.Status = ""
	}
	params := url.Values{"page_size": {strconv.Itoa(usersPageSize)}}
	if data.Status != "" {
		params.Set("status", data.Status)
	}
	if t := q.Get("page_token"); t != "" {
		params.Set("page_token", t)
	}
	var err error
	if data.Query == "" {
		var list userList
		err = h.call(r, http.MethodGet, "/users", params, nil, &list)
		data.Items, data.Next = list.Items, list.NextPageToken
	} else {
		data.Items, data.Next, err = h.searchUsers(r, params, data.Query)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "users", "users", page{Data: data})
}

// searchUsers returns the page of users whose email address or name
// matches query: the API filters by one or the other, so this merges a
// page of each, both in ID order. The first usersPageSize of the two
// are the first of all matches, and the last of them is where the next
// page starts.
func (h *Handler) searchUsers(r *http.Request, params url.Values, query string) ([]admin.UserView, string, error) {
	var (
		found []admin.UserView
		seen  = map[string]bool{}
		more  bool
	)
	for _, field := range []string{"email", "name"} {
		p := url.Values{}
		for k, v := range params {
			p[k] = v
		}
		p.Set(field, query)
		var list userList
		if err := h.call(r, http.MethodGet, "/users", p, nil, &list); err != nil {
			return nil, "", err
		}
		more = more || list.NextPageToken != ""
		for _, u := range list.Items {
			if !seen[u.ID] {
				seen[u.ID] = true
				found = append(found, u)
			}
		}
	}
	slices.SortFunc(found, func(a, b admin.UserView) int { return strings.Compare(a.ID, b.ID) })
	if len(found) > usersPageSize {
		found, more = found[:usersPageSize], true
	}
	next := ""
	if more && len(found) > 0 {
		next = found[len(found)-1].ID
	}
	return found, next, nil
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
