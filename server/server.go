// Package server composes Tollgate's HTTP server: the router, middleware and
// the handlers of its sub-packages.
package server

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/storage"
)

// Server is Tollgate's HTTP handler.
type Server struct {
	router *mux.Router
}

// New wires the server. It does not start listening.
func New(cfg Config, store storage.Store, keys *keyring.Keyring) (*Server, error) {
	r := mux.NewRouter()
	return &Server{router: r}, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }
