package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate/tollgate/clientreg"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/storage"
)

// adminBackend is where the clients, users and keys commands do their work: the
// local database, or a remote server's admin API (--endpoint).
type adminBackend interface {
	CreateClient(ctx context.Context, r clientreg.Registration) (clientreg.View, error)
	ListClients(ctx context.Context) ([]clientreg.View, error)
	GetClient(ctx context.Context, id string) (clientreg.View, error)
	DeleteClient(ctx context.Context, id string) (clientreg.View, error)
	ListKeys(ctx context.Context) ([]keyring.Info, error)
	RotateKeys(ctx context.Context) ([]keyring.Info, error)
	userAdmin
	Close() error
}

// errNoClient is the answer to a client ID that does not exist.
func errNoClient(id string) error { return fmt.Errorf("no client with id %q", id) }

// remote reports whether the commands go to a server's admin API.
func (a *app) remote() bool {
	return a.endpoint != "" || envValue(a.environ, "TOLLGATE_ENDPOINT") != ""
}

// adminBackend opens the backend the flags name.
func (a *app) adminBackend(cmd *cobra.Command) (adminBackend, error) {
	if a.endpoint == "" {
		a.endpoint = envValue(a.environ, "TOLLGATE_ENDPOINT")
	}
	if a.token == "" {
		a.token = envValue(a.environ, "TOLLGATE_TOKEN")
	}
	if a.endpoint == "" {
		e, err := a.open(cmd)
		if err != nil {
			return nil, err
		}
		return localAdmin{e}, nil
	}
	u, err := url.Parse(a.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--endpoint %q: want the server's issuer URL, such as https://id.example.com", a.endpoint)
	}
	if a.token == "" {
		return nil, usagef("--endpoint needs --token (or TOLLGATE_TOKEN): an access token with the tollgate:admin scope, or the admin_token")
	}
	return &remoteAdmin{base: strings.TrimRight(a.endpoint, "/") + "/admin/v1", token: a.token, client: &http.Client{Timeout: 30 * time.Second}}, nil
}

// withAdmin runs fn on the backend and closes it afterwards.
func (a *app) withAdmin(fn func(ctx context.Context, b adminBackend, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		b, err := a.adminBackend(cmd)
		if err != nil {
			return err
		}
		defer b.Close()
		return fn(cmd.Context(), b, args)
	}
}

// localAdmin works on the database directly.
type localAdmin struct{ e *env }

func (l localAdmin) Close() error { return l.e.Close() }

func (l localAdmin) CreateClient(ctx context.Context, r clientreg.Registration) (clientreg.View, error) {
	c, secret, err := r.Build(time.Now().UTC().Truncate(time.Second))
	if err != nil {
		return clientreg.View{}, err
	}
	if secret != "" {
		if c.SecretHash, err = l.e.hasher.Hash(secret); err != nil {
			return clientreg.View{}, fmt.Errorf("hash client secret: %w", err)
		}
	}
	err = l.e.store.CreateClient(ctx, c)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return clientreg.View{}, fmt.Errorf("a client with id %q already exists", c.ID)
	}
	if err != nil {
		return clientreg.View{}, fmt.Errorf("create client: %w", err)
	}
	l.record(ctx, audit.Event{Type: audit.AdminClientCreated, ClientID: c.ID})
	v := clientreg.ViewOf(c)
	v.ClientSecret = secret
	return v, nil
}

func (l localAdmin) ListClients(ctx context.Context) ([]clientreg.View, error) {
	list, err := l.e.store.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	out := make([]clientreg.View, 0, len(list))
	for _, c := range list {
		out = append(out, clientreg.ViewOf(c))
	}
	return out, nil
}

func (l localAdmin) GetClient(ctx context.Context, id string) (clientreg.View, error) {
	c, err := l.e.store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return clientreg.View{}, errNoClient(id)
	}
	if err != nil {
		return clientreg.View{}, fmt.Errorf("get client %q: %w", id, err)
	}
	return clientreg.ViewOf(c), nil
}

func (l localAdmin) DeleteClient(ctx context.Context, id string) (clientreg.View, error) {
	v, err := l.GetClient(ctx, id)
	if err != nil {
		return v, err
	}
	err = l.e.store.DeleteClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return v, errNoClient(id)
	}
	if err != nil {
		return v, fmt.Errorf("delete client %q: %w", id, err)
	}
	l.record(ctx, audit.Event{Type: audit.AdminClientDeleted, ClientID: id})
	return v, nil
}

func (l localAdmin) ListKeys(ctx context.Context) ([]keyring.Info, error) {
	if err := l.e.keys.Ensure(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	keys, err := l.e.keys.Keys(ctx)
	if err != nil {
		return nil, err
	}
	return keyring.Infos(keys), nil
}

func (l localAdmin) RotateKeys(ctx context.Context) ([]keyring.Info, error) {
	if err := l.e.keys.Rotate(ctx, keyRetention(l.e.cfg)); err != nil {
		return nil, fmt.Errorf("rotate keys: %w", err)
	}
	l.record(ctx, audit.Event{Type: audit.AdminKeysRotated})
	return l.ListKeys(ctx)
}

// remoteAdmin calls a server's admin API.
type remoteAdmin struct {
	base   string
	token  string
	client *http.Client
}

func (r *remoteAdmin) Close() error { return nil }

// apiError is the admin API's error body.
type apiError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// call sends a request and decodes a 2xx answer into out. Errors carry the
// server's description.
func (r *remoteAdmin) call(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e apiError
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e)
		if e.Description == "" {
			e.Description = resp.Status
		}
		return resp.StatusCode, fmt.Errorf("admin API: %s", e.Description)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("admin API: unreadable answer: %w", err)
	}
	return resp.StatusCode, nil
}

func (r *remoteAdmin) CreateClient(ctx context.Context, reg clientreg.Registration) (clientreg.View, error) {
	var v clientreg.View
	status, err := r.call(ctx, http.MethodPost, "/clients", reg, &v)
	if status == http.StatusConflict {
		return v, fmt.Errorf("a client with id %q already exists", reg.ClientID)
	}
	return v, err
}

func (r *remoteAdmin) ListClients(ctx context.Context) ([]clientreg.View, error) {
	all := []clientreg.View{}
	token := ""
	for {
		var page struct {
			Items         []clientreg.View `json:"items"`
			NextPageToken string           `json:"next_page_token"`
		}
		if _, err := r.call(ctx, http.MethodGet, "/clients?page_size=500&page_token="+url.QueryEscape(token), nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextPageToken == "" {
			return all, nil
		}
		token = page.NextPageToken
	}
}

func (r *remoteAdmin) GetClient(ctx context.Context, id string) (clientreg.View, error) {
	var v clientreg.View
	status, err := r.call(ctx, http.MethodGet, "/clients/"+url.PathEscape(id), nil, &v)
	if status == http.StatusNotFound {
		return v, errNoClient(id)
	}
	return v, err
}

func (r *remoteAdmin) DeleteClient(ctx context.Context, id string) (clientreg.View, error) {
	v, err := r.GetClient(ctx, id)
	if err != nil {
		return v, err
	}
	status, err := r.call(ctx, http.MethodDelete, "/clients/"+url.PathEscape(id), nil, nil)
	if status == http.StatusNotFound {
		return v, errNoClient(id)
	}
	return v, err
}

func (r *remoteAdmin) ListKeys(ctx context.Context) ([]keyring.Info, error) {
	var list struct {
		Items []keyring.Info `json:"items"`
	}
	_, err := r.call(ctx, http.MethodGet, "/keys", nil, &list)
	return list.Items, err
}

func (r *remoteAdmin) RotateKeys(ctx context.Context) ([]keyring.Info, error) {
	var list struct {
		Items []keyring.Info `json:"items"`
	}
	_, err := r.call(ctx, http.MethodPost, "/keys/rotate", nil, &list)
	return list.Items, err
}

// keyRetention is how long a rotated-out key stays published: the longest
// life of a token it signed.
func keyRetention(cfg config.Config) time.Duration {
	return max(time.Duration(cfg.AccessTokenLifetime), time.Duration(cfg.IDTokenLifetime))
}
