package storage

import "context"

// UserStatus selects users by whether they may sign in.
type UserStatus string

const (
	// UsersAll does not filter by status.
	UsersAll UserStatus = ""
	// UsersActive are the users who are not disabled.
	UsersActive UserStatus = "active"
	// UsersDisabled are the disabled users.
	UsersDisabled UserStatus = "disabled"
)

// UserQuery selects a page of users; empty fields do not filter. Results
// come in ID order, so that the last ID of a page is the cursor of the next
// and a page is one range of the primary key however deep it is.
type UserQuery struct {
	// Email and Name match a part of the address or the name, ignoring
	// case. % and _ are ordinary characters.
	Email string
	Name  string
	// Status is UsersAll, UsersActive or UsersDisabled.
	Status UserStatus
	// After is the last ID of the previous page: only greater IDs come.
	After string
	// Limit is the most users returned (required, positive).
	Limit int
}

// UserSearcher pages through users without loading them all.
type UserSearcher interface {
	// SearchUsers returns up to q.Limit users matching q with an ID greater
	// than q.After, in ID order.
	SearchUsers(ctx context.Context, q UserQuery) ([]User, error)
}

// EachUser calls fn with each page of up to pageSize users matching q, in
// ID order, from q.After on, until the last page or an error (fn's is
// returned as it is). q.Limit is ignored.
func EachUser(ctx context.Context, s UserSearcher, q UserQuery, pageSize int, fn func([]User) error) error {
	q.Limit = pageSize
	for {
		page, err := s.SearchUsers(ctx, q)
		if err != nil {
			return err
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
		q.After = page[len(page)-1].ID
	}
}
