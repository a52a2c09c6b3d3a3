/**
 * The little that requests/ needs from a logger. Structural, so the app's logger (or
 * `console`) fits without requests/ depending on it. Fields must never carry secrets.
 */
export interface RequestsLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const ignore = (): void => {};

export const silentLogger: RequestsLogger = { info: ignore, warn: ignore, error: ignore };
