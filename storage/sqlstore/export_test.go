package sqlstore

// MigrationCount is how many migrations this binary carries. Versions may
// have gaps (features merged out of order), so it can be less than
// SchemaVersion.
func MigrationCount() int { return len(migrations) }
