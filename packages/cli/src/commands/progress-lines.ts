// Timestamped progress lines on stderr, for the long commands (the demo, the cutover): the
// seconds since the command began, then what is happening. stdout stays for the result.
export class ProgressLines {
  private readonly started = Date.now();
  elapsed(): number {
    return (Date.now() - this.started) / 1000;
  }
  line(text: string): void {
    process.stderr.write(`[${this.elapsed().toFixed(1).padStart(5)} s] ${text}\n`);
  }
}
