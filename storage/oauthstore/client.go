package oauthstore

import (
	"github.com/ory/fosite"

	"github.com/tollgate/tollgate/storage"
)

// Client adapts a stored client registration to fosite.Client. It does not
// implement fosite.OpenIDConnectClient, so a confidential client may
// authenticate with client_secret_basic or client_secret_post, as discovery
// advertises.
type Client struct {
	storage.Client
}

var _ fosite.Client = Client{}

func (c Client) GetID() string                   { return c.ID }
func (c Client) GetHashedSecret() []byte         { return []byte(c.SecretHash) }
func (c Client) GetRedirectURIs() []string       { return c.RedirectURIs }
func (c Client) GetGrantTypes() fosite.Arguments { return c.GrantTypes }
func (c Client) GetScopes() fosite.Arguments     { return c.Scopes }
func (c Client) IsPublic() bool                  { return c.Public }

// GetResponseTypes is always code: implicit and hybrid flows are not offered
// (RFC 9700 §2.1.2).
func (c Client) GetResponseTypes() fosite.Arguments { return fosite.Arguments{"code"} }

// GetAudience lets a client request its own ID as audience, plus any audience
// it was registered with.
func (c Client) GetAudience() fosite.Arguments {
	return append(fosite.Arguments{c.ID}, c.Audience...)
}
