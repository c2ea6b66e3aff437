// When and how long to wait before trying a registry request again.

export interface RetryPolicy {
  /** Total attempts, the first included. */
  readonly attempts: number;
  /** First backoff; doubles each time. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 });

export const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** Network-level failures worth another attempt (not TLS trust problems). */
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

export function errorCode(err: unknown): string | undefined {
  let e = err as { code?: string; cause?: unknown } | undefined;
  for (let i = 0; e && i < 5; i++) {
    if (typeof e.code === 'string' && e.code !== 'UND_ERR') return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  UND_ERR_SOCKET: 'connection closed by the other side',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no answer within the timeout (--timeout)',
  UND_ERR_BODY_TIMEOUT: 'the transfer stalled: no data within the timeout (--timeout)',
  ERR_STREAM_PREMATURE_CLOSE: 'connection closed before the end',
};

/** A short human reason for a network failure. */
export function networkReason(err: unknown): string {
  const code = errorCode(err);
  if (code && REASONS[code]) return REASONS[code];
  return code ?? (err as Error)?.message ?? String(err);
}

export function isRetryableError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && RETRYABLE_CODES.has(code);
}

/** Retry-After as seconds or an HTTP date, in ms; null when absent or unparsable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  // An HTTP date names its month; Date.parse alone would read "1.5" or "-5" as days in 2001 (no wait at all).
  if (!/[A-Za-z]/.test(value)) return null;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

export function backoffMs(policy: RetryPolicy, attempt: number, retryAfter: number | null): number {
  if (retryAfter !== null) return Math.min(retryAfter, policy.maxDelayMs);
  const exp = policy.baseDelayMs * 2 ** (attempt - 1);
  // Up to 20% jitter so that parallel builds do not retry in lockstep.
  return Math.min(policy.maxDelayMs, exp * (1 + Math.random() * 0.2));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
