package sqlstore

// MigrationCount is how many migrations this binary knows; versions may
// have gaps while branches that number their own migrations are merged.
func MigrationCount() int { return len(migrations) }
