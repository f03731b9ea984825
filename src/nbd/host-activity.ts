/**
 * When the host last used the export, and how much: what the background copier looks at to stay
 * out of the host's way, and what the server reports.
 */
export class HostActivity {
  private inFlight = 0;
  private lastEnd = Number.NEGATIVE_INFINITY;
  readonly counts = { reads: 0, writes: 0, flushes: 0, bytesRead: 0, bytesWritten: 0 };

  constructor(private readonly now: () => number) {}

  /** Runs one host request, counted as activity from its start to its end. */
  async track<T>(op: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await op();
    } finally {
      this.inFlight--;
      this.lastEnd = this.now();
    }
  }

  /** Milliseconds since the host's last request ended; 0 while one is in flight. */
  quietFor(): number {
    return this.inFlight > 0 ? 0 : this.now() - this.lastEnd;
  }
}
