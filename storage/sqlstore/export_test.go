package sqlstore

// MigrationCount is how many migrations this binary has: versions need not
// be contiguous while features land on branches of their own.
func MigrationCount() int { return len(migrations) }
