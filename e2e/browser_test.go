//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The test follows docs/integrations/*.md: it starts Tollgate, registers the
// clients and a user with the CLI, starts the three examples, and drives
// headless Chromium through each flow, leaving a screenshot of every step
// in e2e-artifacts/.

const (
	startTimeout = 5 * time.Minute // npm ci and next build on a slow machine
	stepTimeout  = 60 * time.Second
	email        = "ada@example.com"
	password     = "correct horse battery staple"
	userName     = "Ada Lovelace"
)

// stack is everything the flows need, running.
type stack struct {
	root, artifacts string
	env             []string
	ports           *strings.Replacer
	tollgate, api   string
	spa, next       string
	authjs          string
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// run runs a guide's command to completion, with its ports replaced.
func (s *stack) run(t *testing.T, c command) {
	t.Helper()
	line := s.ports.Replace(c.line)
	t.Logf("$ (cd %s && %s)", c.dir, line)
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", line)
	cmd.Dir = filepath.Join(s.root, c.dir)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
}

// start starts a guide's long-running command and waits until url answers
// with status want; the process group is stopped when the test ends. Its output goes to
// the artifacts directory.
func (s *stack) start(t *testing.T, name string, c command, url string, want int) {
	t.Helper()
	line := s.ports.Replace(c.line)
	t.Logf("$ (cd %s && %s) &", c.dir, line)
	logPath := filepath.Join(s.artifacts, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", line)
	cmd.Dir = filepath.Join(s.root, c.dir)
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("%s exited before answering on %s: %v (log: %s)", name, url, err, logPath)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer on %s after %s (log: %s)", name, url, startTimeout, logPath)
		}
	}
}

func newStack(t *testing.T) *stack {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	artifacts := filepath.Join(root, "e2e-artifacts")
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	tp, ap, sp, np, jp := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	s := &stack{
		root: root, artifacts: artifacts,
		ports: strings.NewReplacer(
			"localhost:"+docTollgatePort, "localhost:"+tp,
			"127.0.0.1:"+docAPIPort, "127.0.0.1:"+ap, "localhost:"+docAPIPort, "localhost:"+ap,
			"localhost:"+docSPAPort, "localhost:"+sp, "serve.mjs "+docSPAPort, "serve.mjs "+sp,
			"localhost:"+docNextPort, "localhost:"+np, "-p "+docNextPort, "-p "+np,
			"localhost:"+docAuthjsPort, "localhost:"+jp, "-p "+docAuthjsPort, "-p "+jp,
		),
		tollgate: "http://localhost:" + tp, api: "http://localhost:" + ap,
		spa: "http://localhost:" + sp, next: "http://localhost:" + np, authjs: "http://localhost:" + jp,
	}
	// Tollgate's commands find their issuer and database here: the guides
	// use the defaults (http://localhost:8080, ./data).
	s.env = append(os.Environ(),
		"TOLLGATE_ISSUER="+s.tollgate,
		"TOLLGATE_DATA_DIR="+t.TempDir(),
		"TOLLGATE_ARGON2_MEMORY_KIB=19456",
		"NEXT_TELEMETRY_DISABLED=1",
		"NPM_CONFIG_UPDATE_NOTIFIER=false",
		"NPM_CONFIG_FUND=false",
		"NPM_CONFIG_AUDIT=false",
	)

	s.run(t, buildTollgate)
	s.start(t, "tollgate", serveTollgate, s.tollgate+"/readyz", http.StatusOK)
	s.run(t, createUser)
	for _, c := range []command{nextauthClient, authjsClient, apiClient, spaClient} {
		s.run(t, c)
	}
	s.start(t, "api", apiStart, s.api+"/api/hello", http.StatusUnauthorized)
	s.run(t, spaCI)
	s.start(t, "spa", spaStart, s.spa+"/", http.StatusOK)
	s.run(t, nextauthCI)
	s.run(t, nextauthBuild)
	s.start(t, "nextauth", nextauthStart, s.next+"/", http.StatusOK)
	s.run(t, authjsCI)
	s.run(t, authjsBuild)
	s.start(t, "authjs", authjsStart, s.authjs+"/", http.StatusOK)
	return s
}

// browser is a fresh headless Chromium: a new profile, background
// networking and first-run tasks off.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if found, err := exec.LookPath(p); err == nil {
				path = found
				break
			}
		}
	}
	if path == "" {
		t.Fatal("no Chromium found: install Debian's chromium (make e2e does) or set CHROMIUM")
	}
	// Not t.TempDir: Chromium's helper processes may still be writing to
	// the profile for a moment after the browser has gone.
	profile, err := os.MkdirTemp("", "tollgate-e2e-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox, // root in CI containers; the pages are our own
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, _ := chromedp.NewContext(actx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it
		cancelAlloc()
		deadline := time.Now().Add(10 * time.Second)
		for os.RemoveAll(profile) != nil && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	return ctx
}

// flow runs numbered steps in one browser tab, each with its own timeout,
// and takes a screenshot after each one (or of the failure).
type flow struct {
	t         *testing.T
	ctx       context.Context
	name, dir string
	n         int
}

func (s *stack) flow(t *testing.T, name string) *flow {
	return &flow{t: t, ctx: browser(t), name: name, dir: s.artifacts}
}

func (f *flow) step(what string, actions ...chromedp.Action) {
	f.t.Helper()
	f.n++
	base := fmt.Sprintf("%s-%02d-%s", f.name, f.n, strings.ReplaceAll(what, " ", "-"))
	ctx, cancel := context.WithTimeout(f.ctx, stepTimeout)
	defer cancel()
	err := chromedp.Run(ctx, actions...)
	shot := filepath.Join(f.dir, base+".png")
	if err != nil {
		shot = filepath.Join(f.dir, base+"-FAILED.png")
	}
	png, url, text, serr := capture(f.ctx)
	if serr == nil {
		serr = os.WriteFile(shot, png, 0o644)
	}
	if serr != nil {
		shot = "(no screenshot: " + serr.Error() + ")"
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s", stepTimeout)
		}
		f.t.Fatalf("%s: step %d %q failed: %v\n  at %s\n  screenshot: %s\n  page text: %s", f.name, f.n, what, err, url, shot, text)
	}
	f.t.Logf("%s: step %d %q done at %s (%s)", f.name, f.n, what, url, shot)
}

// capture takes a screenshot, the URL and the start of the page's text,
// retrying while the page is between two documents.
func capture(parent context.Context) (png []byte, url, text string, err error) {
	ctx, cancel := context.WithTimeout(parent, 20*time.Second)
	defer cancel()
	for {
		err = chromedp.Run(ctx, waitJS(`document.readyState === "complete"`), chromedp.CaptureScreenshot(&png), chromedp.Location(&url),
			chromedp.Evaluate(`document.body ? document.body.innerText.slice(0, 2000) : ""`, &text))
		if err == nil || ctx.Err() != nil {
			return png, url, text, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitJS waits until the JavaScript expression is true on the page. It
// evaluates it every 100 ms and takes an error (a page navigating away, one
// not yet attached) for "not yet".
func waitJS(expr string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var last error
		for {
			var ok bool
			ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := chromedp.Evaluate(expr, &ok).Do(ectx)
			cancel()
			if err == nil && ok {
				return nil
			}
			if err != nil {
				last = err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("still false: %s (last error: %v)", expr, last)
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

// textIs waits until the element's text contains want.
func textIs(sel, want string) chromedp.Action {
	return waitJS(fmt.Sprintf(`(document.querySelector(%q)?.textContent || "").includes(%q)`, sel, want))
}

// markPage tags the current document so that afterNavigation can tell a
// new page load from a re-render of the old one.
func markPage() chromedp.Action {
	return chromedp.Evaluate(`window.__e2eOldPage = true`, nil)
}

func afterNavigation(expr string) chromedp.Action {
	return waitJS(`!window.__e2eOldPage && document.readyState === "complete" && (` + expr + `)`)
}

// atTollgateLogin is true on Tollgate's hosted login page.
func atTollgateLogin(s *stack) chromedp.Action {
	return waitJS(fmt.Sprintf(`location.href.startsWith(%q) && !!document.querySelector("#password")`, s.tollgate+"/"))
}

// statusIs is true on the app's own page (at appURL, not on the way
// through) when its #status reads want.
func statusIs(appURL, want string) chromedp.Action {
	return afterNavigation(fmt.Sprintf(`location.origin + "/" === %q && (document.querySelector("#status")?.textContent || "") === %q`, appURL, want))
}

// signIn goes from the app's signed-out page through Tollgate's login and
// consent pages, and back to the app signed in.
func (f *flow) signIn(s *stack, appURL, signedOut string, signedIn ...chromedp.Action) {
	f.t.Helper()
	f.step("signed out", chromedp.Navigate(appURL), statusIs(appURL, signedOut))
	f.step("sign in", chromedp.Click("#signin", chromedp.ByQuery))
	f.step("tollgate login page",
		atTollgateLogin(s),
		chromedp.SendKeys("#email", email, chromedp.ByQuery),
		chromedp.SendKeys("#password", password, chromedp.ByQuery),
	)
	f.step("tollgate consent page",
		markPage(),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
		afterNavigation(`!!document.querySelector("button[value=allow]")`),
	)
	f.step("signed in", append([]chromedp.Action{
		markPage(),
		chromedp.Click(`button[value=allow]`, chromedp.ByQuery),
		statusIs(appURL, "Signed in"),
	}, signedIn...)...)
}

// signOut signs out with RP-initiated logout, back at the app, and checks
// that Tollgate's session ended too: signing in asks for the password again.
func (f *flow) signOut(s *stack, appURL, signedOut string) {
	f.t.Helper()
	f.step("signed out via RP-initiated logout",
		markPage(),
		chromedp.Click("#signout", chromedp.ByQuery),
		statusIs(appURL, signedOut),
	)
	f.step("tollgate asks for the password again",
		chromedp.Click("#signin", chromedp.ByQuery),
		atTollgateLogin(s),
	)
}

func TestBrowser(t *testing.T) {
	s := newStack(t)

	t.Run("nextauth", func(t *testing.T) {
		f := s.flow(t, "nextauth")
		f.signIn(s, s.next+"/", "Not signed in", textIs("#name", userName), textIs("#email", email))
		f.signOut(s, s.next+"/", "Not signed in")
	})

	t.Run("authjs", func(t *testing.T) {
		f := s.flow(t, "authjs")
		f.signIn(s, s.authjs+"/", "Not signed in", textIs("#name", userName), textIs("#email", email))
		f.signOut(s, s.authjs+"/", "Not signed in")
	})

	t.Run("spa", func(t *testing.T) {
		f := s.flow(t, "spa")
		f.signIn(s, s.spa+"/", "Signed out", textIs("#user-name", userName), textIs("#user-email", email))
		f.step("refreshed with rotation",
			chromedp.Click("#refresh", chromedp.ByQuery),
			textIs("#refresh-count", "1"),
			textIs("#rotated", "yes"),
		)
		f.step("called the API",
			chromedp.Click("#call-api", chromedp.ByQuery),
			textIs("#api-result", "API answered 200"),
			textIs("#api-result", `"client_id":"spa-example"`),
		)
		f.signOut(s, s.spa+"/", "Signed out")
	})
	if t.Failed() {
		return
	}
	var pngs int
	entries, _ := os.ReadDir(s.artifacts)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".png") {
			pngs++
		}
	}
	t.Logf("%d screenshots in %s", pngs, s.artifacts)
}
