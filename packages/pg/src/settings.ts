// Output settings pinned on every connection that reads or checks values (DESIGN.md,
// "Canonical row checksum"): the text PostgreSQL produces must not depend on a server's
// or a role's defaults. Sent in the startup packet, so they hold for replication
// connections (where the walsender runs the type output functions) as well.

export const PINNED_SETTINGS: Readonly<Record<string, string>> = {
  DateStyle: "ISO",
  IntervalStyle: "postgres",
  TimeZone: "UTC",
  extra_float_digits: "1",
  bytea_output: "hex",
  client_encoding: "UTF8",
};

/** The libpq `options` string that sets PINNED_SETTINGS (plus any extra settings). */
export function pinnedOptions(extra: Readonly<Record<string, string>> = {}): string {
  return Object.entries({ ...PINNED_SETTINGS, ...extra })
    .map(([k, v]) => `-c ${k}=${v.replace(/([\\ ])/g, "\\$1")}`)
    .join(" ");
}
