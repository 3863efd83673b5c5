-- Fair share between accounts on a busy worker: the queue orders candidates by when each
-- account last had a job started (round-robin), which reads this index.
CREATE INDEX jobs_started_idx ON jobs (customer_id, started_at);
