// LogHistogram counts non-negative integers (here: nanoseconds) in HDR-style log-linear buckets,
// the same layout as bench/histogram.h so Node and C++ figures are read alike: values below
// 2^SUB_BITS are exact, and each power-of-two range above is split into 2^(SUB_BITS-1) equal
// sub-buckets, so a percentile is within 0.8% above the recorded value. Buckets are kept sparse
// (a Map) so a histogram travels between processes as a small JSON object.

const SUB_BITS = 8;
const SUB_COUNT = 1 << SUB_BITS;
const HALF = SUB_COUNT / 2;

function magnitudeOf(value) {
  let m = Math.floor(Math.log2(value));
  if (2 ** m > value) m -= 1;  // Math.log2 may round up just below a power of two.
  if (2 ** (m + 1) <= value) m += 1;
  return m;
}

function bucketOf(value) {
  if (value < SUB_COUNT) return value;
  const shift = magnitudeOf(value) - (SUB_BITS - 1);
  const top = Math.floor(value / 2 ** shift);  // In [HALF, SUB_COUNT).
  return SUB_COUNT + (shift - 1) * HALF + (top - HALF);
}

// The largest value that falls into `bucket`.
function upperBoundOf(bucket) {
  if (bucket < SUB_COUNT) return bucket;
  const shift = Math.floor((bucket - SUB_COUNT) / HALF) + 1;
  const top = ((bucket - SUB_COUNT) % HALF) + HALF;
  return top * 2 ** shift + (2 ** shift - 1);
}

export class LogHistogram {
  constructor() {
    this.counts = new Map();
    this.count = 0;
    this.min = Infinity;
    this.max = 0;
  }

  record(value) {
    const v = Math.max(0, Math.round(value));
    const b = bucketOf(v);
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
    this.count += 1;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  // Adds every count of `other` (a LogHistogram or its toJSON()).
  add(other) {
    const entries = other.counts instanceof Map ? other.counts.entries() : other.counts;
    for (const [b, n] of entries) this.counts.set(Number(b), (this.counts.get(Number(b)) ?? 0) + n);
    this.count += other.count;
    if (other.count > 0) {
      this.min = Math.min(this.min, other.min);
      this.max = Math.max(this.max, other.max);
    }
  }

  // The smallest bucket upper bound at or below which `p` (0 to 100) percent of the values lie,
  // capped at the maximum. 0 when empty.
  percentile(p) {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((Math.min(Math.max(p, 0), 100) / 100) * this.count));
    let seen = 0;
    for (const b of [...this.counts.keys()].sort((x, y) => x - y)) {
      seen += this.counts.get(b);
      if (seen >= rank) return Math.min(upperBoundOf(b), this.max);
    }
    return this.max;
  }

  toJSON() {
    return { counts: [...this.counts.entries()], count: this.count, min: this.min, max: this.max };
  }

  static fromJSON(json) {
    const h = new LogHistogram();
    h.add(json);
    return h;
  }
}
