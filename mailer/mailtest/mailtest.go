// Package mailtest runs a real SMTP server in the test's process, to
// receive what Tollgate sends and follow the links in it.
package mailtest

import (
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Received is one delivered message.
type Received struct {
	From, To string
	Header   mail.Header
	Raw      string
}

// Server is an SMTP server that keeps what it receives.
type Server struct {
	Host string
	Port int

	mu       sync.Mutex
	messages []Received
	arrived  chan struct{}
}

// Start runs a server on a free loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, arrived: make(chan struct{}, 100)}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "mailtest.local"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// WaitFor returns the first message to the address, waiting up to five
// seconds for it.
func (s *Server) WaitFor(t testing.TB, to string) Received {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		for _, m := range s.messages {
			if strings.EqualFold(m.To, to) {
				s.mu.Unlock()
				return m
			}
		}
		s.mu.Unlock()
		select {
		case <-s.arrived:
		case <-deadline:
			t.Fatalf("no email to %s arrived", to)
		}
	}
}

// Count is how many messages went to the address.
func (s *Server) Count(to string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.messages {
		if strings.EqualFold(m.To, to) {
			n++
		}
	}
	return n
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s        *Server
	from, to string
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error { x.from = from; return nil }
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error   { x.to = to; return nil }
func (x *session) Reset()                                      {}
func (x *session) Logout() error                               { return nil }

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.messages = append(x.s.messages, Received{From: x.from, To: x.to, Header: msg.Header, Raw: string(raw)})
	x.s.mu.Unlock()
	x.s.arrived <- struct{}{}
	return nil
}

// Text returns the message's plain-text body, decoded.
func (r Received) Text(t testing.TB) string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(r.Raw))
	if err != nil {
		t.Fatal(err)
	}
	text, err := plainText(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	if err != nil {
		t.Fatalf("read the email's text: %v", err)
	}
	return text
}

// Link returns the first URL in the text that starts with prefix.
func (r Received) Link(t testing.TB, prefix string) string {
	t.Helper()
	for _, field := range strings.Fields(r.Text(t)) {
		if strings.HasPrefix(field, prefix) {
			return field
		}
	}
	t.Fatalf("no link starting with %s in the email:\n%s", prefix, r.Text(t))
	return ""
}

func plainText(contentType, encoding string, body io.Reader) (string, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err != nil {
				return "", fmt.Errorf("no text/plain part: %w", err)
			}
			if text, err := plainText(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part); err == nil {
				return text, nil
			}
		}
	}
	if mediaType != "text/plain" {
		return "", fmt.Errorf("%s is not text/plain", mediaType)
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	return string(b), err
}
