package sqlstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestUserAndSessionWrittenByPreviousRelease inserts a user and a session
// the way a replica of the release before migration 7 does, without the
// preferences and user_agent columns: the inserts succeed, and read back
// with no preferences and no user agent.
func TestUserAndSessionWrittenByPreviousRelease(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			dsn := d.empty(t)
			s := open(t, dsn)
			must(t, s.Migrate(t.Context()))
			stmts := []string{
				`INSERT INTO users (id, email, email_verified, name, picture, password_hash, disabled, created_at, updated_at)
				VALUES ('old', 'old@example.com', true, 'Old', '', '', false, $1, $1)`,
				`INSERT INTO sessions (id, user_id, auth_time, amr, expires_at, created_at)
				VALUES ('old-session', 'old', $1, '["pwd"]', $2, $1)`,
			}
			now := time.Now().UTC()
			later := now.Add(time.Hour)
			if d.name == "sqlite" {
				db, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "sqlite:"))
				must(t, err)
				defer db.Close()
				const layout = "2006-01-02 15:04:05.999999"
				for _, stmt := range stmts {
					_, err = db.ExecContext(t.Context(), stmt, now.Format(layout), later.Format(layout))
					must(t, err)
				}
			} else {
				conn, err := pgx.Connect(t.Context(), dsn)
				must(t, err)
				defer conn.Close(context.Background())
				_, err = conn.Exec(t.Context(), stmts[0], now)
				must(t, err)
				_, err = conn.Exec(t.Context(), stmts[1], now, later)
				must(t, err)
			}
			u, err := s.GetUser(t.Context(), "old")
			must(t, err)
			if u.Preferences != nil {
				t.Fatalf("Preferences = %s, want none", u.Preferences)
			}
			sessions, err := s.ListUserSessions(t.Context(), "old")
			must(t, err)
			if len(sessions) != 1 || sessions[0].UserAgent != "" {
				t.Fatalf("sessions = %+v, want the one, without a user agent", sessions)
			}
		})
	}
}
