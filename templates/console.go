package templates

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"strings"
	"time"

	"github.com/tollgate/tollgate/static"
)

// The admin console's pages share the hosted pages' layout and stylesheet,
// plus console.css; _partials.html holds what every console page reuses.
//
//go:embed layout.html console/*.html
var consoleFiles embed.FS

// NewConsole parses the admin console's pages. basePath is the issuer's
// path, as for New. The data of every page is the console's own type.
func NewConsole(basePath string) (*Renderer, error) {
	basePath = strings.TrimRight(basePath, "/")
	funcs := template.FuncMap{
		"url":   func(p string) string { return basePath + p },
		"asset": func(name string) string { return basePath + static.Path(name) },
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2 Jan 2006, 15:04 UTC")
		},
		"join": strings.Join,
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(consoleFiles, "layout.html", "console/_partials.html")
	if err != nil {
		return nil, fmt.Errorf("templates: console layout: %w", err)
	}
	names, err := fs.Glob(consoleFiles, "console/*.html")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	r := &Renderer{pages: map[string]*template.Template{}}
	for _, name := range names {
		page := strings.TrimSuffix(strings.TrimPrefix(name, "console/"), ".html")
		if strings.HasPrefix(page, "_") {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(consoleFiles, name)
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", name, err)
		}
		r.pages[page] = t
	}
	return r, nil
}
