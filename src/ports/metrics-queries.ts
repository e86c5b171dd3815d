// The metrics port: the read-only counts the Prometheus gauges show at scrape time.

/** How many instances share a provider, lifecycle status and login status. */
export interface SessionCount {
  provider: string;
  status: string;
  auth_status: string;
  n: number;
}

export interface MetricsQueries {
  /** Instances grouped by provider, status and auth_status (groups with none are absent). */
  sessionCounts(): Promise<SessionCount[]>;
}
