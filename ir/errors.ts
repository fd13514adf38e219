/** Errors a user can meet, exported so callers can catch them by class. */

/** A primitive was applied to operands whose shapes or dtypes its rule rejects. */
export class ShapeError extends Error {
  override name = "ShapeError";
  constructor(
    readonly primitive: string,
    readonly detail: string,
    readonly operands: string[] = [],
    readonly userFrame?: string,
  ) {
    super(
      `${primitive}: ${detail}` +
        (operands.length ? ` (operands: ${operands.join(", ")})` : "") +
        (userFrame ? `\n  at ${userFrame}` : ""),
    );
  }

  /** The same error, pointing at the user's own line. */
  withFrame(frame: string | undefined): ShapeError {
    if (!frame || this.userFrame) return this;
    const e = new ShapeError(this.primitive, this.detail, this.operands, frame);
    e.stack = e.message;
    return e;
  }
}

/** The IR text could not be parsed; carries line and column (1-based). */
export class IRParseError extends Error {
  override name = "IRParseError";
  constructor(
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`line ${line}, column ${column}: ${detail}`);
  }
}

/** A graph broke an invariant; names the node and the rule. */
export class VerifyError extends Error {
  override name = "VerifyError";
  constructor(
    readonly node: string,
    readonly rule: string,
  ) {
    super(`verifier: ${node}: ${rule}`);
  }
}
