package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/tollgate/tollgate/server/admin"
	"github.com/tollgate/tollgate/storage"
)

// userPageSize is how many users the users list command asks for at once,
// from the database or from the admin API (whose maximum it is).
const userPageSize = 500

// ListUsers calls page with each page of users in ID order, reading them
// from the database a page at a time.
func (l localAdmin) ListUsers(ctx context.Context, page func([]admin.UserView) error) error {
	err := storage.EachUser(ctx, l.e.store, storage.UserQuery{}, userPageSize, func(list []storage.User) error {
		views := make([]admin.UserView, len(list))
		for i, u := range list {
			views[i] = admin.ViewUser(u)
		}
		return page(views)
	})
	var out outputError
	if err != nil && !errors.As(err, &out) {
		return fmt.Errorf("list users: %w", err)
	}
	return err
}

// ListUsers calls page with each page of users the admin API answers.
func (r *remoteAdmin) ListUsers(ctx context.Context, page func([]admin.UserView) error) error {
	return r.users(ctx, url.Values{}, page)
}

// users calls fn with each page of the users the query selects, following
// the API's page tokens, until the last page or fn's error.
func (r *remoteAdmin) users(ctx context.Context, q url.Values, fn func([]admin.UserView) error) error {
	q.Set("page_size", fmt.Sprint(userPageSize))
	for {
		var page struct {
			Items         []admin.UserView `json:"items"`
			NextPageToken string           `json:"next_page_token"`
		}
		if _, err := r.call(ctx, http.MethodGet, "/users?"+q.Encode(), nil, &page); err != nil {
			return err
		}
		if len(page.Items) > 0 {
			if err := fn(page.Items); err != nil {
				return err
			}
		}
		if page.NextPageToken == "" {
			return nil
		}
		q.Set("page_token", page.NextPageToken)
	}
}

// errFound stops a search at its first match.
var errFound = errors.New("found")

// findByEmail finds the user with exactly this address through the API's
// search, which matches parts of addresses.
func (r *remoteAdmin) findByEmail(ctx context.Context, email string) (admin.UserView, error) {
	var found admin.UserView
	err := r.users(ctx, url.Values{"email": {strings.ToLower(email)}}, func(list []admin.UserView) error {
		for _, u := range list {
			if strings.EqualFold(u.Email, email) {
				found = u
				return errFound
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errFound):
		return found, nil
	case err != nil:
		return admin.UserView{}, err
	}
	return admin.UserView{}, errNoUser(email)
}

// outputError is a failure to write the output, as opposed to one to read
// what it shows.
type outputError struct{ err error }

func (e outputError) Error() string { return "write output: " + e.err.Error() }
func (e outputError) Unwrap() error { return e.err }

// printUsers prints the users that list hands over page by page exactly as
// print would print them all at once: a JSON array, or a table with
// --output table. The JSON is written as the pages come, so the command
// holds one page at a time however many users there are; a table must
// wait for the last row to align its columns. When list fails part way,
// what was written is cut short (and the command exits non-zero).
func (a *app) printUsers(list func(page func([]admin.UserView) error) error) error {
	if a.output == outputTable {
		tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		writeRows := func(rows [][]string) error {
			for _, row := range rows {
				if _, err := fmt.Fprintln(tw, strings.Join(row, "\t")); err != nil {
					return outputError{err}
				}
			}
			return nil
		}
		if err := writeRows(userTable()); err != nil {
			return err
		}
		err := list(func(page []admin.UserView) error { return writeRows(userTable(page...)[1:]) })
		if err != nil {
			return err
		}
		if err := tw.Flush(); err != nil {
			return outputError{err}
		}
		return nil
	}
	w := &jsonArray{w: bufio.NewWriter(a.stdout)}
	err := list(func(page []admin.UserView) error {
		for _, u := range page {
			if err := w.add(u); err != nil {
				return outputError{err}
			}
		}
		if err := w.w.Flush(); err != nil {
			return outputError{err}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := w.close(); err != nil {
		return outputError{err}
	}
	return nil
}

// jsonArray writes a JSON array one element at a time, indented as
// printJSON indents a whole slice.
type jsonArray struct {
	w *bufio.Writer
	n int
}

func (j *jsonArray) add(v any) error {
	b, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n  "
	if j.n == 0 {
		sep = "[\n  "
	}
	j.n++
	if _, err := io.WriteString(j.w, sep); err != nil {
		return err
	}
	_, err = j.w.Write(b)
	return err
}

func (j *jsonArray) close() error {
	end := "\n]\n"
	if j.n == 0 {
		end = "[]\n"
	}
	if _, err := io.WriteString(j.w, end); err != nil {
		return err
	}
	return j.w.Flush()
}
