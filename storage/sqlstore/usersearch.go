package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tollgate/tollgate/storage"
)

// likeEscape is the escape character of the LIKE patterns SearchUsers
// builds; a character that needs no quoting in either dialect's literals.
const likeEscape = "!"

// containsPattern is a LIKE pattern matching any text that contains s
// literally: %, _ and the escape character itself lose their meaning.
func containsPattern(s string) string {
	r := strings.NewReplacer(likeEscape, likeEscape+likeEscape, "%", likeEscape+"%", "_", likeEscape+"_")
	return "%" + r.Replace(s) + "%"
}

// SearchUsers pages through users in ID order. Each page is a range scan of
// the primary key from q.After, filtered as it goes: it stops after
// q.Limit matches, so a page costs the same on the first page as on the
// last. Email and name match a part, ignoring case: ILIKE on PostgreSQL,
// LIKE on SQLite. SQLite's LIKE folds ASCII letters only: addresses are
// stored lower-cased and the query's address is lower-cased here, so they
// match whatever their letters, and a name query with other letters than
// ASCII ones is matched here instead (see searchUsersFolding).
func (s *Store) SearchUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, error) {
	if q.Limit <= 0 {
		return nil, errors.New("search users: limit must be positive")
	}
	if !s.postgres && !isASCII(q.Name) {
		return s.searchUsersFolding(ctx, q)
	}
	return s.searchUsers(ctx, q)
}

func (s *Store) searchUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, error) {
	like := "LIKE"
	if s.postgres {
		like = "ILIKE"
	}
	db := s.db(ctx).Model(&userRow{})
	if q.Email != "" {
		db = db.Where("email "+like+" ? ESCAPE '"+likeEscape+"'", containsPattern(normalizeEmail(q.Email)))
	}
	if q.Name != "" {
		db = db.Where("name "+like+" ? ESCAPE '"+likeEscape+"'", containsPattern(q.Name))
	}
	switch q.Status {
	case storage.UsersAll:
	case storage.UsersActive:
		db = db.Where("disabled = ?", false)
	case storage.UsersDisabled:
		db = db.Where("disabled = ?", true)
	default:
		return nil, fmt.Errorf("search users: unknown status %q", q.Status)
	}
	if q.After != "" {
		db = db.Where("id > ?", q.After)
	}
	var rows []userRow
	if err := db.Order("id").Limit(q.Limit).Find(&rows).Error; err != nil {
		return nil, wrap(err, "search users")
	}
	out := make([]storage.User, len(rows))
	for i, r := range rows {
		out[i] = r.user()
	}
	return out, nil
}

// foldBatch is how many users searchUsersFolding reads at once.
const foldBatch = 500

// searchUsersFolding is SearchUsers for a name query that SQLite's LIKE
// cannot match ignoring case ("élodie" for "Élodie"): it reads the users
// the other filters select in batches, in ID order, and keeps those whose
// name contains the query with Unicode case folding, until it has q.Limit
// of them. Memory stays one batch; time is that of the scan LIKE would do.
func (s *Store) searchUsersFolding(ctx context.Context, q storage.UserQuery) ([]storage.User, error) {
	name := strings.ToLower(q.Name)
	batch := q
	batch.Name, batch.Limit = "", max(q.Limit, foldBatch)
	var out []storage.User
	for {
		users, err := s.searchUsers(ctx, batch)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if strings.Contains(strings.ToLower(u.Name), name) {
				out = append(out, u)
				if len(out) == q.Limit {
					return out, nil
				}
			}
		}
		if len(users) < batch.Limit {
			return out, nil
		}
		batch.After = users[len(users)-1].ID
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
