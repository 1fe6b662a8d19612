package server

import (
	"context"
	"errors"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/docs"

	"github.com/tollgate/tollgate/pictures"
	"github.com/tollgate/tollgate/server/account"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/oauth"
	"github.com/tollgate/tollgate/server/session"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

// mountAccount wires the self-service account page and API; the API
// verifies access tokens as the protocol handler does.
func mountAccount(r *mux.Router, cfg Config, store storage.Store, sessions *session.Manager, pages *templates.Renderer, protocol *oauth.Handler, rec *audit.Recorder, pics *pictures.Store, upstreams []templates.UpstreamButton) {
	(&account.Handler{
		Issuer: cfg.Issuer, Store: store, Sessions: sessions, Passwords: cfg.Passwords, Audit: rec,
		Policy: cfg.PasswordPolicy, Pages: pages, Logger: cfg.Logger, OpenAPI: docs.AccountOpenAPI,
		Pictures: pics, Upstreams: upstreams, Now: cfg.Now,
		Bearer: func(ctx context.Context, token, scope string) (account.Grant, error) {
			g, err := protocol.CheckBearerGrant(ctx, token, scope)
			switch {
			case errors.Is(err, oauth.ErrInvalidToken):
				return account.Grant{}, account.ErrInvalidToken
			case errors.Is(err, oauth.ErrInsufficientScope):
				return account.Grant{}, account.ErrInsufficientScope
			case err != nil:
				return account.Grant{}, err
			}
			return account.Grant{Subject: g.Subject, GrantID: g.GrantID}, nil
		},
	}).Mount(r)
}

// forgetPicture removes a deleted user's stored picture (for the admin
// API); an external picture URL is left alone. A failure leaves an orphan
// object, which is logged.
func (s *Server) forgetPicture(ctx context.Context, u storage.User) {
	if err := s.pictures.DeleteURL(context.WithoutCancel(ctx), s.issuer, u.Picture); err != nil {
		s.logger.WarnContext(ctx, "delete the picture of a deleted user", "user_id", u.ID, "err", err)
	}
}
