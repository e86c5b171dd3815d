// The clock port, so timers and timestamps can be controlled in tests.
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
