// Small formatting and parsing rules every ops command shares: dates in, durations and times out.
import { usageError } from "./errors.ts";

export const iso = (epochMs: number): string => new Date(epochMs).toISOString();

/** 45s, 4m12s, 3h05m, 2d04h: short enough for one status line. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, "0")}h`;
}

/** --from/--to: an ISO date or time (2026-11-01, 2026-11-01T12:00:00Z) or epoch milliseconds; dates are UTC. */
export function parseDate(flag: string, value: string): number {
  const text = value.trim();
  if (/^\d{10,}$/.test(text)) return Number(text);
  const date = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text;
  const ms = Date.parse(date);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(ms)) {
    throw usageError(
      `${flag} must be a date (2026-11-01), a UTC time (2026-11-01T12:00:00Z) or epoch milliseconds, not "${value}".`,
    );
  }
  return ms;
}
