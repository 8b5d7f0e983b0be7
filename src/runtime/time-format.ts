// The two timestamp formats of the Kubernetes API. metav1.Time is RFC 3339 to the second;
// metav1.MicroTime (Lease acquireTime/renewTime) needs exactly six fractional digits, because the
// apiserver parses it with Go's RFC3339Micro layout.

/** `2026-11-22T02:13:38Z` */
export function formatTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `2026-11-22T02:13:38.123000Z` (a Date holds milliseconds; the last three digits are zero). */
export function formatMicroTime(date: Date): string {
  return date.toISOString().replace(/Z$/, '000Z');
}
