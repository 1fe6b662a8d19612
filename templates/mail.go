package templates

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"strings"
	texttemplate "text/template"
)

// MailRenderer renders the email messages in mail/: NAME.txt holds the
// subject and the text body, NAME.html the HTML body.
type MailRenderer struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
}

// MailData is what every message may use; Extra holds the rest.
type MailData struct {
	Name  string // the recipient's name, or ""
	Email string
	Link  string // the message's one action
	Extra map[string]string
}

// NewMail parses the embedded email templates.
func NewMail() (*MailRenderer, error) {
	r := &MailRenderer{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	names, err := fs.Glob(files, "mail/*.txt")
	if err != nil {
		return nil, err
	}
	for _, path := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(path, "mail/"), ".txt")
		t, err := texttemplate.ParseFS(files, path)
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", path, err)
		}
		h, err := htmltemplate.ParseFS(files, "mail/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("templates: mail %s: %w", name, err)
		}
		r.text[name], r.html[name] = t, h
	}
	return r, nil
}

// Render returns the subject, text and HTML of message name.
func (r *MailRenderer) Render(name string, data MailData) (subject, text, html string, err error) {
	t, ok := r.text[name]
	if !ok {
		return "", "", "", fmt.Errorf("templates: no email %q", name)
	}
	var s, b, h bytes.Buffer
	if err := t.ExecuteTemplate(&s, "subject", data); err != nil {
		return "", "", "", fmt.Errorf("templates: email %s subject: %w", name, err)
	}
	if err := t.ExecuteTemplate(&b, "body", data); err != nil {
		return "", "", "", fmt.Errorf("templates: email %s text: %w", name, err)
	}
	if err := r.html[name].Execute(&h, data); err != nil {
		return "", "", "", fmt.Errorf("templates: email %s HTML: %w", name, err)
	}
	return strings.TrimSpace(s.String()), strings.TrimSpace(b.String()) + "\n", h.String(), nil
}
