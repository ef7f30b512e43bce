import { LimitExceededError } from '@andante/model';

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Per-tenant token bucket over request bytes (Tempo's local rate strategy): refills at
 * ingestion.rate_limit_bytes per second up to ingestion.burst_size_bytes.
 */
export class TenantRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes `bytes` tokens or throws a retryable RATE_LIMITED error naming the limits. */
  take(tenantId: string, bytes: number, rateBytes: number, burstBytes: number): void {
    const now = this.now();
    let bucket = this.buckets.get(tenantId);
    if (!bucket) {
      bucket = { tokens: burstBytes, updatedMs: now };
      this.buckets.set(tenantId, bucket);
    }
    bucket.tokens = Math.min(burstBytes, bucket.tokens + ((now - bucket.updatedMs) / 1000) * rateBytes);
    bucket.updatedMs = now;
    if (bytes > burstBytes) {
      throw new LimitExceededError(
        'RATE_LIMITED',
        'rate_limited',
        `batch size (${bytes} bytes) exceeds ingestion limit (local: ${rateBytes} bytes/s, burst: ${burstBytes} bytes) while adding ${bytes} bytes for user ${tenantId}. consider reducing batch size or increasing ingestion.burst_size_bytes.`,
      );
    }
    if (bytes > bucket.tokens) {
      const waitSeconds = Math.max(1, Math.ceil((bytes - bucket.tokens) / Math.max(rateBytes, 1)));
      throw new LimitExceededError(
        'RATE_LIMITED',
        'rate_limited',
        `ingestion rate limit (local: ${rateBytes} bytes/s, burst: ${burstBytes} bytes) exceeded while adding ${bytes} bytes for user ${tenantId}. consider increasing ingestion.rate_limit_bytes or reducing ingestion rate.`,
        waitSeconds,
      );
    }
    bucket.tokens -= bytes;
  }
}
