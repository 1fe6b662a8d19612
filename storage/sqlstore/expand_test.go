package sqlstore

import (
	"regexp"
	"strings"
	"testing"
)

// contracting matches DDL that would break the previous release while it
// still runs on the migrated schema: dropping or renaming anything,
// changing a column's type, or tightening a column it writes.
var contracting = []struct {
	re  *regexp.Regexp
	why string
}{
	{regexp.MustCompile(`(?i)\bDROP\b`), "drops something the previous release may use"},
	{regexp.MustCompile(`(?i)\bRENAME\b`), "renames something the previous release uses by its old name"},
	{regexp.MustCompile(`(?i)\bALTER\s+(COLUMN\s+)?("?\w+"?\s+)?(SET\s+DATA\s+)?TYPE\b`), "changes a column's type"},
	{regexp.MustCompile(`(?i)\bSET\s+NOT\s+NULL\b`), "makes a column the previous release leaves empty mandatory"},
	{regexp.MustCompile(`(?i)\bTRUNCATE\b|\bDELETE\s+FROM\b`), "deletes data"},
}

// addColumn matches ALTER TABLE … ADD COLUMN … and captures the column
// definition.
var addColumn = regexp.MustCompile(`(?is)\bALTER\s+TABLE\s+\S+\s+ADD\s+(?:COLUMN\s+)?(.*)`)

// TestMigrationsAreExpandOnly: every migration, on both dialects, only adds
// (tables, indexes, columns that are nullable or have a default), so that
// replicas of the previous release keep working on the new schema during a
// rollout (CheckSchema lets them run on a newer schema). Versions grow and
// every migration has DDL for both dialects.
func TestMigrationsAreExpandOnly(t *testing.T) {
	last := 0
	for _, m := range migrations {
		if m.version <= last {
			t.Errorf("migration %d (%s) comes after %d: versions must grow", m.version, m.name, last)
		}
		last = m.version
		if len(m.postgres) == 0 || len(m.sqlite) == 0 {
			t.Errorf("migration %d (%s) lacks DDL for a dialect", m.version, m.name)
		}
		for dialect, stmts := range map[string][]string{"postgres": m.postgres, "sqlite": m.sqlite} {
			for _, stmt := range stmts {
				for _, c := range contracting {
					if c.re.MatchString(stmt) {
						t.Errorf("migration %d (%s), %s: %q %s", m.version, m.name, dialect, oneLine(stmt), c.why)
					}
				}
				if add := addColumn.FindStringSubmatch(stmt); add != nil {
					def := strings.ToUpper(add[1])
					if strings.Contains(def, "NOT NULL") && !strings.Contains(def, "DEFAULT") {
						t.Errorf("migration %d (%s), %s: %q adds a NOT NULL column without a default: the previous release's inserts would fail",
							m.version, m.name, dialect, oneLine(stmt))
					}
				}
			}
		}
	}
}

// The checks above catch what they are meant to.
func TestExpandOnlyCheckCatchesContractions(t *testing.T) {
	for _, stmt := range []string{
		`DROP TABLE clients`,
		`ALTER TABLE clients DROP COLUMN name`,
		`ALTER TABLE clients RENAME COLUMN name TO title`,
		`ALTER TABLE clients RENAME TO apps`,
		`ALTER TABLE clients ALTER COLUMN name TYPE INTEGER`,
		`ALTER TABLE clients ALTER COLUMN name SET DATA TYPE INTEGER`,
		`ALTER TABLE clients ALTER name TYPE INTEGER`,
		`ALTER TABLE clients ALTER COLUMN name SET NOT NULL`,
		`DROP INDEX tokens_expires_at`,
	} {
		matched := false
		for _, c := range contracting {
			matched = matched || c.re.MatchString(stmt)
		}
		if !matched {
			t.Errorf("%q is not caught", stmt)
		}
	}
	for stmt, bad := range map[string]bool{
		`ALTER TABLE clients ADD COLUMN logo TEXT NOT NULL`:              true,
		`ALTER TABLE clients ADD COLUMN logo TEXT NOT NULL DEFAULT ''`:   false,
		`ALTER TABLE clients ADD COLUMN logo TEXT`:                       false,
		`CREATE TABLE mfa (user_id TEXT NOT NULL, secret TEXT NOT NULL)`: false,
	} {
		add := addColumn.FindStringSubmatch(stmt)
		got := add != nil && strings.Contains(strings.ToUpper(add[1]), "NOT NULL") && !strings.Contains(strings.ToUpper(add[1]), "DEFAULT")
		if got != bad {
			t.Errorf("%q: flagged %v, want %v", stmt, got, bad)
		}
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
