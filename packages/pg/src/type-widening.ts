// Which column type changes lose nothing: the consumer applies only these to a target table
// (target.schemaChanges apply), and `zeroloss check` uses the same rule to say which
// differences the consumer would fit and which would stop it.

const INTEGERS = ["smallint", "integer", "bigint"];

/**
 * Can every value of a `have` column become a `want` value, the cast never failing? The
 * source's rows went through the same cast when its table was altered, so source and target
 * stay equal: integer widenings, varchar(n) → varchar(m ≥ n) or text, numeric(p,s) → numeric
 * with room for as many integer and fraction digits (or unconstrained), real → double precision.
 */
export function widens(have: string, want: string): boolean {
  if (INTEGERS.includes(have) && INTEGERS.includes(want)) return INTEGERS.indexOf(want) > INTEGERS.indexOf(have);
  const vc = /^character varying(?:\((\d+)\))?$/;
  const h = vc.exec(have);
  if (h !== null) {
    if (want === "text") return true;
    const w = vc.exec(want);
    return w !== null && (w[1] === undefined || (h[1] !== undefined && Number(w[1]) >= Number(h[1])));
  }
  const num = /^numeric\((\d+),(\d+)\)$/;
  const hn = num.exec(have);
  if (hn !== null) {
    if (want === "numeric") return true;
    const wn = num.exec(want);
    if (wn === null) return false;
    const [hp, hs, wp, ws] = [Number(hn[1]), Number(hn[2]), Number(wn[1]), Number(wn[2])];
    return ws >= hs && wp - ws >= hp - hs;
  }
  return have === "real" && want === "double precision";
}
