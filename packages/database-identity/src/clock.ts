/**
 * The platform's Date and clock, captured when this module loads. In the production server that is before
 * Next.js loads, and Next replaces the global Date with a wrapper that consults its render context on every
 * reading (for prerendering, which the protocol endpoints never do). The hot paths read the time here.
 */
export const SystemDate: DateConstructor = Date;
export const systemNow: () => number = Date.now;
