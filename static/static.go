// Package static embeds the stylesheet and images of the hosted pages and
// serves them with cache headers that let browsers keep them for good once a
// fingerprinted URL is used.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// files is the asset tree rooted at the served directory.
var files = mustSub(assets, "assets")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// fingerprints maps each asset's name to a short hash of its content; the
// assets are compiled in, so it is computed once.
var fingerprints = func() map[string]string {
	m := map[string]string{}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[name] = hex.EncodeToString(sum[:])[:10]
		return nil
	})
	if err != nil {
		panic(err) // the tree is embedded at build time
	}
	return m
}()

// Fingerprint returns a short hash of an asset's content, or "" when there is
// no such asset.
func Fingerprint(name string) string { return fingerprints[name] }

// Path is the URL path, below the issuer, at which an asset is served, with
// its fingerprint as a cache-busting query.
func Path(name string) string {
	return "/static/" + name + "?v=" + Fingerprint(name)
}

// Handler serves the assets under any prefix ending in /static/. A request
// whose v parameter matches the content is cacheable for a year; any other is
// revalidated, so an old page never gets a stale stylesheet.
func Handler() http.Handler {
	server := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := strings.LastIndex(r.URL.Path, "/static/")
		if i < 0 {
			http.NotFound(w, r)
			return
		}
		name := path.Clean(r.URL.Path[i+len("/static/"):])
		fp := Fingerprint(name)
		if fp == "" {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") == fp {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		r2.URL.RawPath = ""
		server.ServeHTTP(w, r2)
	})
}
