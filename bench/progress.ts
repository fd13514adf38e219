/**
 * Progress on stderr while the benchmark runs: a redrawn bar when stderr is a
 * terminal, else one line per step (CI logs and pipes keep every line readable).
 * stdout stays clean for the table.
 */

export interface Progress {
  /** Starts the next step (a variant of a workload), labelled. */
  step(label: string): void;
  /** One call inside the current step finished (of `of` expected). */
  tick(done: number, of: number): void;
  /** A message that must not be overdrawn by the bar. */
  note(text: string): void;
  finish(): void;
}

const WIDTH = 28;

/** A duration for the progress line: 12.3s under a minute, 7m59s past it (never 7m60s). */
export function seconds(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${s % 60}s`;
}

export function progressBar(totalSteps: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = Boolean(stream.isTTY);
  const t0 = performance.now();
  let stepIndex = 0;
  let label = "";
  let fraction = 0;
  let drawn = false;

  const draw = () => {
    const overall = Math.min(1, (stepIndex - 1 + fraction) / totalSteps);
    const filled = Math.round(overall * WIDTH);
    const bar = "█".repeat(filled) + "░".repeat(WIDTH - filled);
    const text = `${bar} ${stepIndex}/${totalSteps} ${seconds(performance.now() - t0)}  ${label}`;
    const cols = stream.columns ?? 100;
    stream.write(`\r\x1b[2K${text.slice(0, cols - 1)}`);
    drawn = true;
  };
  const clear = () => {
    if (drawn) stream.write("\r\x1b[2K");
    drawn = false;
  };

  return {
    step(next) {
      stepIndex++;
      label = next;
      fraction = 0;
      if (tty) draw();
      else stream.write(`bench: [${stepIndex}/${totalSteps}] ${next}\n`);
    },
    tick(done, of) {
      fraction = of > 0 ? done / of : 1;
      if (tty) draw();
    },
    note(text) {
      if (tty) clear();
      stream.write(text.endsWith("\n") ? text : text + "\n");
      if (tty && stepIndex > 0) draw();
    },
    finish() {
      if (tty) clear();
      else stream.write(`bench: done in ${seconds(performance.now() - t0)}\n`);
    },
  };
}

/** Progress that says nothing (library use and tests). */
export const silentProgress: Progress = { step() {}, tick() {}, note() {}, finish() {} };
