package redisstore

// QueuedChecks is how many revocation checks wait for the next batch.
func (s *Store) QueuedChecks() int {
	s.lookups.mu.Lock()
	defer s.lookups.mu.Unlock()
	return len(s.lookups.queue)
}

const MaxFlights = maxFlights

const MaxBatch = maxBatch
