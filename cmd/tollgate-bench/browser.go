package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// callbackURL is the benchmark client's redirect URI; nothing listens there:
// the browser stops at the redirect and reads the code from it.
const callbackURL = "http://127.0.0.1:1/callback"

// browser is a user agent with its own cookies that follows Tollgate's
// redirects by hand and stops at the client's callback.
type browser struct {
	client *http.Client
	issuer string
}

func newBrowser(issuer string, transport http.RoundTripper) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{issuer: issuer, client: &http.Client{
		Jar: jar, Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// pkce is one authorization request's verifier and S256 challenge.
type pkce struct{ verifier, challenge string }

func newPKCE() pkce {
	v := randomHex(32)
	sum := sha256.Sum256([]byte(v))
	return pkce{v, base64.RawURLEncoding.EncodeToString(sum[:])}
}

func (b *browser) authorizeURL(clientID string, p pkce) string {
	return b.issuer + "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {callbackURL},
		"scope": {"openid profile email offline_access"}, "state": {randomHex(8)}, "nonce": {randomHex(8)},
		"code_challenge": {p.challenge}, "code_challenge_method": {"S256"},
	}.Encode()
}

var (
	csrfField    = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	requestField = regexp.MustCompile(`name="request" value="([^"]*)"`)
)

// authorize runs an authorization request to its code, signing in with
// email and password if Tollgate asks and allowing (remembered) consent.
func (b *browser) authorize(clientID, email, password string, p pkce) (string, error) {
	next := b.authorizeURL(clientID, p)
	var form url.Values
	for range 10 {
		var resp *http.Response
		var err error
		if form == nil {
			resp, err = b.client.Get(next)
		} else {
			resp, err = b.client.PostForm(next, form)
		}
		if err != nil {
			return "", err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		form = nil
		switch {
		case resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound:
			loc, err := resp.Location()
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(loc.String(), callbackURL) {
				code := loc.Query().Get("code")
				if code == "" {
					return "", fmt.Errorf("authorization failed: %s", loc.RawQuery)
				}
				return code, nil
			}
			next = loc.String()
		case resp.StatusCode == http.StatusOK && strings.Contains(string(body), `name="password"`):
			next, form = b.issuer+"/login", b.fields(body)
			form.Set("email", email)
			form.Set("password", password)
		case resp.StatusCode == http.StatusOK && strings.Contains(string(body), `name="decision"`):
			next, form = b.issuer+"/consent", b.fields(body)
			form.Set("decision", "allow")
			form.Set("remember", "1")
		default:
			return "", fmt.Errorf("unexpected %d at %s", resp.StatusCode, next)
		}
	}
	return "", fmt.Errorf("too many steps")
}

func (b *browser) fields(body []byte) url.Values {
	v := url.Values{}
	if m := csrfField.FindSubmatch(body); m != nil {
		v.Set("csrf_token", string(m[1]))
	}
	if m := requestField.FindSubmatch(body); m != nil {
		v.Set("request", string(m[1]))
	}
	return v
}

// tokens is a token endpoint answer.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

// postToken calls the token endpoint as the confidential client.
func postToken(client *http.Client, issuer, clientID, secret string, form url.Values) (tokens, error) {
	req, err := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return tokens{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := client.Do(req)
	if err != nil {
		return tokens{}, err
	}
	defer resp.Body.Close()
	var t tokens
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return t, fmt.Errorf("token endpoint: %d %s", resp.StatusCode, body)
	}
	return t, json.NewDecoder(resp.Body).Decode(&t)
}

func exchangeForm(code string, p pkce) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callbackURL}, "code_verifier": {p.verifier}}
}
