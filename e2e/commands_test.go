package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A command is one line of a guide in docs/integrations, exactly as a
// reader types it there (ports as the guide has them), and the directory it
// runs in. The browser test runs these, with the ports it picked, and
// TestGuidesHoldTheCommands checks that the guides still say them word for
// word.
type command struct {
	guide string // file under docs/integrations
	dir   string // relative to the repository's root
	line  string
}

// The guides' ports; the browser test substitutes free ones.
const (
	docTollgatePort = "8080"
	docAPIPort      = "8081"
	docSPAPort      = "5173"
	docNextPort     = "3000"
	docAuthjsPort   = "3001"
)

var (
	buildTollgate = command{"", ".", `go build -o bin/tollgate ./cmd/tollgate`}
	serveTollgate = command{"", ".", `bin/tollgate serve`}
	createUser    = command{"", ".", `echo 'correct horse battery staple' | bin/tollgate users create --email ada@example.com --name "Ada Lovelace" --password-stdin --verified`}

	nextauthClient = command{"nextauth.md", ".", `bin/tollgate clients create --name "Next.js example" --id nextauth-example --secret nextauth-example-secret-0123456789 --redirect-uri http://localhost:3000/api/auth/callback/tollgate --post-logout-redirect-uri http://localhost:3000/ --scope "openid profile email"`}
	nextauthCI     = command{"nextauth.md", "examples/nextauth", `npm ci`}
	nextauthBuild  = command{"nextauth.md", "examples/nextauth", `npm run build`}
	nextauthStart  = command{"nextauth.md", "examples/nextauth", `TOLLGATE_ISSUER=http://localhost:8080 TOLLGATE_CLIENT_ID=nextauth-example TOLLGATE_CLIENT_SECRET=nextauth-example-secret-0123456789 NEXTAUTH_URL=http://localhost:3000 NEXTAUTH_SECRET=replace-with-32-random-bytes-base64 npm start -- -p 3000`}

	authjsClient = command{"nextauth.md", ".", `bin/tollgate clients create --name "Auth.js example" --id authjs-example --secret authjs-example-secret-0123456789 --redirect-uri http://localhost:3001/api/auth/callback/tollgate --post-logout-redirect-uri http://localhost:3001/ --scope "openid profile email"`}
	authjsCI     = command{"nextauth.md", "examples/authjs", `npm ci`}
	authjsBuild  = command{"nextauth.md", "examples/authjs", `npm run build`}
	authjsStart  = command{"nextauth.md", "examples/authjs", `TOLLGATE_ISSUER=http://localhost:8080 TOLLGATE_CLIENT_ID=authjs-example TOLLGATE_CLIENT_SECRET=authjs-example-secret-0123456789 AUTH_URL=http://localhost:3001 AUTH_SECRET=replace-with-32-random-bytes-base64 npm start -- -p 3001`}

	apiClient = command{"api.md", ".", `bin/tollgate clients create --name "Example API" --id example-api --secret example-api-secret-0123456789 --grant-type client_credentials --scope api:read`}
	apiStart  = command{"api.md", ".", `go run ./examples/api -issuer http://localhost:8080 -audience spa-example -scope api:read -introspection-client-id example-api -introspection-client-secret example-api-secret-0123456789 -cors-origin http://localhost:5173 -listen 127.0.0.1:8081`}

	spaClient = command{"spa.md", ".", `bin/tollgate clients create --name "SPA example" --id spa-example --public --redirect-uri http://localhost:5173/ --post-logout-redirect-uri http://localhost:5173/ --web-origin http://localhost:5173 --scope "openid profile email offline_access api:read"`}
	spaCI     = command{"spa.md", "examples/spa", `npm ci`}
	spaStart  = command{"spa.md", "examples/spa", `TOLLGATE_ISSUER=http://localhost:8080 SPA_CLIENT_ID=spa-example API_URL=http://localhost:8081 node serve.mjs 5173`}
)

// The commands every guide shares.
var common = []command{buildTollgate, serveTollgate, createUser}

var guides = map[string][]command{
	"nextauth.md": append(common[:3:3], nextauthClient, nextauthCI, nextauthBuild, nextauthStart,
		authjsClient, authjsCI, authjsBuild, authjsStart),
	"api.md": append(common[:3:3], apiClient, apiStart),
	"spa.md": append(common[:3:3], spaClient, spaCI, spaStart),
}

// shellLines joins a guide's sh blocks' continued lines into one line each,
// with runs of blanks made one.
func shellLines(doc string) []string {
	var out []string
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(doc, -1)
	for _, b := range blocks {
		joined := strings.ReplaceAll(b[1], "\\\n", " ")
		for _, l := range strings.Split(joined, "\n") {
			l = strings.Join(strings.Fields(l), " ")
			if l != "" && !strings.HasPrefix(l, "#") {
				out = append(out, l)
			}
		}
	}
	return out
}

func TestGuidesHoldTheCommands(t *testing.T) {
	for guide, cmds := range guides {
		raw, err := os.ReadFile(filepath.Join("..", "docs", "integrations", guide))
		if err != nil {
			t.Fatal(err)
		}
		lines := shellLines(string(raw))
		for _, c := range cmds {
			found := false
			for _, l := range lines {
				// "cd DIR && " may precede a command that runs in DIR.
				if l == c.line || l == "cd "+c.dir+" && "+c.line {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: the test runs, in %s, a command the guide does not show in an sh block:\n%s", guide, c.dir, c.line)
			}
		}
	}
}

// TestGuidesShowTheExamples: each guide shows its example's configuration
// as it is in the repository.
func TestGuidesShowTheExamples(t *testing.T) {
	for guide, files := range map[string][]string{
		"nextauth.md": {"examples/nextauth/pages/api/auth/[...nextauth].js", "examples/nextauth/pages/api/logout.js",
			"examples/authjs/auth.js", "examples/authjs/app/logout.js"},
		"spa.md": {"examples/spa/app.js"},
	} {
		doc, err := os.ReadFile(filepath.Join("..", "docs", "integrations", guide))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			src, err := os.ReadFile(filepath.Join("..", f))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(doc), string(src)) {
				t.Errorf("%s does not show %s as it is", guide, f)
			}
		}
	}
}
