package sqlstore

// MigrationCount is how many migrations this binary knows. Versions may
// have gaps (features merged out of order), so it can be below
// SchemaVersion.
func MigrationCount() int { return len(migrations) }
